// The bytes a WriteQueue holds for one stream, in the order they were
// queued: copies of its own (pongs, close frames, a connection's own
// output, TLS records) and references to blocks shared with other queues (a
// room's frames, SharedBytes). Only a stream that was given a shared block
// keeps a list of segments; until then its bytes are one string, as cheap
// to append to as before there were shared blocks.
#pragma once
#include <uv.h>

#include <cstddef>
#include <string>
#include <vector>

#include "net/shared_bytes.h"

namespace wsbridge::net {

class PendingBytes {
 public:
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  // Both may throw std::bad_alloc; nothing was queued then.
  void append_owned(const char* data, std::size_t size);
  // `size` bytes of `block` from `offset`: a reference, not a copy.
  void append_shared(const SharedBytes& block, std::size_t offset, std::size_t size);

  // One buffer per segment, in order, into `bufs` (cleared first). They stay
  // valid until the next change to this object. May throw std::bad_alloc.
  void fill_bufs(std::vector<uv_buf_t>& bufs) const;
  // The first `size` bytes were sent.
  void drop_front(std::size_t size) noexcept;
  // Lets go of every byte and shared block; capacity is kept up to `keep`
  // bytes (and a list of as many segments as one read usually needs).
  void clear(std::size_t keep) noexcept;

  void swap(PendingBytes& other) noexcept;

 private:
  // A run of bytes: [begin, end) of `shared`'s block, or of owned_ when
  // `shared` is empty.
  struct Segment {
    SharedBytes shared;
    std::size_t begin;
    std::size_t end;
  };

  std::string owned_;
  // Empty while every byte is owned (owned_ is then the whole content).
  std::vector<Segment> segments_;
  std::size_t size_ = 0;
};

}  // namespace wsbridge::net
