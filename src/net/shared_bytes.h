// A block of bytes that many write queues of one loop send without copying
// it: a room frames each read of its program's output once into a block,
// and every member's queue keeps a reference to what its socket has not
// taken yet (WriteQueue::write_shared). The block is written by its maker
// while it is the only holder, and never changes once shared.
//
// A handle with an intrusive count rather than std::shared_ptr<const
// std::string>: one allocation holds the count and the string (make_shared
// would too, but the string's bytes are a second either way), the count is
// a plain integer because a block never leaves its loop's thread (a room and
// its members live on one loop; shared_ptr pays an atomic, locked increment
// per member per read: 1,000 of them per read at 1,000 clients), and the
// maker can see that no queue holds the block any more and reuse it, with
// its capacity, for the next read (rewrite), so a room whose clients keep up
// allocates nothing per read.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace wsbridge::net {

class SharedBytes {
 public:
  SharedBytes() noexcept = default;
  SharedBytes(const SharedBytes& other) noexcept : block_(other.block_) {
    if (block_ != nullptr) ++block_->holders;
  }
  SharedBytes(SharedBytes&& other) noexcept : block_(std::exchange(other.block_, nullptr)) {}
  SharedBytes& operator=(SharedBytes other) noexcept {
    std::swap(block_, other.block_);
    return *this;
  }
  ~SharedBytes() { reset(); }

  // Lets go of the block (freed with its last holder).
  void reset() noexcept {
    if (block_ != nullptr && --block_->holders == 0) delete block_;
    block_ = nullptr;
  }

  // An empty block for this handle alone to fill: the one it holds when no
  // one else holds it any more (its capacity kept), else a new one with
  // room for as many bytes as the one it leaves held (the next read of a
  // program's output is usually like the last, and growing a block frame by
  // frame would copy it many times over). May throw std::bad_alloc.
  std::string& rewrite() {
    if (block_ != nullptr && block_->holders == 1) {
      block_->bytes.clear();
      return block_->bytes;
    }
    const std::size_t last_size = size();
    reset();
    block_ = new Block;
    block_->bytes.reserve(last_size);
    return block_->bytes;
  }

  // The bytes to go on filling while this handle is the block's only one;
  // null once it is shared (or for an empty handle).
  std::string* unshared_bytes() noexcept {
    return block_ != nullptr && block_->holders == 1 ? &block_->bytes : nullptr;
  }

  std::string_view view() const noexcept {
    return block_ != nullptr ? std::string_view(block_->bytes) : std::string_view();
  }
  std::size_t size() const noexcept { return block_ != nullptr ? block_->bytes.size() : 0; }
  std::size_t capacity() const noexcept { return block_ != nullptr ? block_->bytes.capacity() : 0; }
  // Handles on this block, this one included (0 for an empty handle).
  std::size_t holders() const noexcept { return block_ != nullptr ? block_->holders : 0; }
  explicit operator bool() const noexcept { return block_ != nullptr; }

 private:
  struct Block {
    std::string bytes;
    std::size_t holders = 1;
  };
  Block* block_ = nullptr;
};

}  // namespace wsbridge::net
