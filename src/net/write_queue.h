// Bounded outgoing data for one libuv stream (a TCP socket or a child's stdin
// pipe). Writes go to the kernel first (uv_try_write) and only what it
// refuses is copied here (design.md rule 8); a block shared with other
// queues (a room's frames) is not even copied, only referenced, and goes out
// in its place among this stream's own writes. The owner stops producing while
// pending() is above kHighWaterMark and is told when it falls to
// kLowWaterMark (rule 6), so memory per direction stays bounded.
#pragma once
#include <uv.h>

#include <cstddef>
#include <vector>

#include "net/pending_bytes.h"
#include "net/shared_bytes.h"
#include "net/uv_cast.h"
#include "wsbridge/tls/tls_session.h"

namespace wsbridge::net {

class WriteQueue {
 public:
  // Stop reading the producer above this many unsent bytes...
  static constexpr std::size_t kHighWaterMark = 256 * 1024;
  // ...and resume once the queue has drained to this.
  static constexpr std::size_t kLowWaterMark = 64 * 1024;

  class Owner {
   public:
    // pending() fell to kLowWaterMark or below after having been above it.
    virtual void on_queue_drained(WriteQueue& queue) noexcept = 0;
    // Everything was written after finish_then() was requested.
    virtual void on_queue_finished(WriteQueue& queue) noexcept = 0;
    // The stream failed (EPIPE, ECONNRESET...): pending data is discarded.
    // Always from a write callback, never from inside write(), uncork() or
    // finish_then(): a failure found there is reported on a later turn of
    // the loop, so a write never changes its caller's state under it.
    virtual void on_queue_error(WriteQueue& queue, int uv_error) noexcept = 0;

   protected:
    ~Owner() = default;
  };

  void attach(uv_stream_t* stream, Owner* owner) noexcept {
    stream_ = stream;
    owner_ = owner;
  }

  // With a TLS session set, write() encrypts what it is given and
  // finish_then() sends close_notify first. Set once, before any write.
  void set_tls(tls::TlsSession* session) noexcept { tls_ = session; }

  // Queues the buffers in order. Returns false after an error (the data is
  // dropped: the peer is gone); the owner hears of it later.
  bool write(const uv_buf_t* bufs, unsigned count) noexcept;
  // Queues bytes that are already on the wire's format (TLS records the
  // session produced while reading), bypassing encryption.
  bool write_raw(const char* data, std::size_t size) noexcept;
  bool write(const char* data, std::size_t size) noexcept {
    uv_buf_t buf = make_buf(data, size);
    return write(&buf, 1);
  }
  // Queues the whole block in order with the other writes, keeping a
  // reference to what the kernel does not take at once rather than a copy.
  // With TLS the block is encrypted for this stream, as write() does.
  bool write_shared(const SharedBytes& block) noexcept;

  // Calls on_queue_finished once everything queued so far has been written
  // (at once if nothing is pending). Writes after this are ignored.
  void finish_then() noexcept;

  // While corked, writes of up to kCorkLimit bytes in all are gathered and
  // reach the kernel in one system call when uncorked: the messages of one
  // socket read become one write to the child's stdin, which wakes the child
  // once rather than once per message. Use through Cork.
  static constexpr std::size_t kCorkLimit = 64 * 1024;
  void cork() noexcept { corked_ = true; }
  void uncork() noexcept;
  class Cork {
   public:
    explicit Cork(WriteQueue& queue) noexcept : queue_(queue) { queue_.cork(); }
    ~Cork() { queue_.uncork(); }
    Cork(const Cork&) = delete;
    Cork& operator=(const Cork&) = delete;

   private:
    WriteQueue& queue_;
  };

  // Bytes queued for this stream, shared or not, and not yet written.
  std::size_t pending() const noexcept { return pending_.size() + in_flight_.size(); }
  bool over_high_water() const noexcept { return pending() > kHighWaterMark; }
  bool failed() const noexcept { return failed_; }

 private:
  static void on_write_done(uv_write_t* req, int status) noexcept;
  bool write_plain(const uv_buf_t* bufs, unsigned count) noexcept;
  // Takes what the kernel takes now; false after a failure (reported later).
  bool try_write_now(const uv_buf_t* bufs, unsigned count, std::size_t& written) noexcept;
  // Hands what was just queued to libuv unless a write is in flight.
  bool write_queued() noexcept;
  // `bytes` as one buffer per segment into `bufs`; false (and the queue
  // failed with UV_ENOMEM) when the list could not grow.
  bool list_buffers(const PendingBytes& bytes, std::vector<uv_buf_t>& bufs) noexcept;
  void start_write() noexcept;
  void fail(int uv_error) noexcept;
  void report_failure_later() noexcept;
  void release_large_buffers() noexcept;

  uv_stream_t* stream_ = nullptr;
  Owner* owner_ = nullptr;
  tls::TlsSession* tls_ = nullptr;
  uv_write_t request_{};
  PendingBytes pending_;    // accepted, not yet handed to libuv
  PendingBytes in_flight_;  // handed to libuv by the current uv_write
  bool writing_ = false;
  bool above_high_water_ = false;
  bool finishing_ = false;
  bool finished_ = false;
  bool failed_ = false;
  int failure_ = 0;  // found inside a call, reported from on_write_done
  bool corked_ = false;
};

}  // namespace wsbridge::net
