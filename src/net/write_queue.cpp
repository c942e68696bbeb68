#include "net/write_queue.h"

#include "net/uv_cast.h"

#include <string>
#include <utility>
#include <vector>

namespace wsbridge::net {
namespace {
// Buffers that grew past this during a burst are freed once empty, so a
// connection that was busy once does not keep megabytes while idle.
constexpr std::size_t kKeepCapacity = 64 * 1024;
// For clear(): keep whatever capacity there is (steady state allocates nothing).
constexpr std::size_t kKeepAll = static_cast<std::size_t>(-1);

// The buffers of one write, one per segment; libuv copies them into its
// request, so one list serves every queue of a loop's thread.
std::vector<uv_buf_t>& bufs_scratch() {
  thread_local std::vector<uv_buf_t> bufs;
  return bufs;
}
}  // namespace

namespace {
// TLS records of one write are built here and handed to the kernel at once.
// A loop is single-threaded, so one buffer serves every connection of a
// loop; one per thread, because each worker loop has its own thread.
std::string& ciphertext_scratch() {
  thread_local std::string scratch;
  return scratch;
}
}  // namespace

bool WriteQueue::write(const uv_buf_t* bufs, unsigned count) noexcept {
  if (tls_ == nullptr) return write_plain(bufs, count);
  if (failed_ || finishing_) return !failed_;
  std::string& records = ciphertext_scratch();
  records.clear();
  try {
    for (unsigned i = 0; i < count; ++i) {
      if (bufs[i].len > 0 && !tls_->send(bufs[i].base, bufs[i].len, records)) {
        fail(UV_EPROTO);
        return false;
      }
    }
  } catch (...) {
    fail(UV_ENOMEM);
    return false;
  }
  bool ok = write_raw(records.data(), records.size());
  if (records.capacity() > kKeepCapacity) std::string().swap(records);
  return ok;
}

bool WriteQueue::write_raw(const char* data, std::size_t size) noexcept {
  uv_buf_t buf = make_buf(data, size);
  return write_plain(&buf, 1);
}

bool WriteQueue::write_shared(const SharedBytes& block) noexcept {
  const std::string_view bytes = block.view();
  // A TLS stream's ciphertext is its own: the plaintext is encrypted for it.
  if (tls_ != nullptr) return write(bytes.data(), bytes.size());
  if (failed_ || finishing_) return !failed_;
  if (bytes.empty()) return true;
  try {
    if (corked_ && !writing_ && pending_.size() + bytes.size() <= kCorkLimit) {
      pending_.append_shared(block, 0, bytes.size());
      return true;
    }
    std::size_t written = 0;
    if (!writing_ && pending_.empty()) {
      const uv_buf_t buf = make_buf(bytes.data(), bytes.size());
      if (!try_write_now(&buf, 1, written)) return false;
      if (written == bytes.size()) return true;
    }
    // Only a reference to what the kernel did not take.
    pending_.append_shared(block, written, bytes.size() - written);
  } catch (...) {
    fail(UV_ENOMEM);
    return false;
  }
  return write_queued();
}

bool WriteQueue::write_queued() noexcept {
  if (pending() > kHighWaterMark) above_high_water_ = true;
  if (!writing_) start_write();
  return !failed_;
}

bool WriteQueue::try_write_now(const uv_buf_t* bufs, unsigned count, std::size_t& written) noexcept {
  const int r = uv_try_write(stream_, bufs, count);
  if (r >= 0) {
    written = static_cast<std::size_t>(r);
  } else if (r != UV_EAGAIN && r != UV_ENOSYS) {
    fail(r);
    return false;
  }
  return true;
}

bool WriteQueue::write_plain(const uv_buf_t* bufs, unsigned count) noexcept {
  if (failed_ || finishing_) return !failed_;
  size_t total = 0;
  for (unsigned i = 0; i < count; ++i) total += bufs[i].len;
  if (total == 0) return true;

  if (corked_ && !writing_ && pending_.size() + total <= kCorkLimit) {
    try {
      for (unsigned i = 0; i < count; ++i) pending_.append_owned(bufs[i].base, bufs[i].len);
    } catch (...) {
      fail(UV_ENOMEM);
      return false;
    }
    return true;
  }
  // Past the cork limit (or not corked): what was gathered goes out now,
  // together with this write.
  size_t written = 0;
  if (!writing_ && pending_.empty()) {
    if (!try_write_now(bufs, count, written)) return false;
    if (written == total) return true;
  }
  try {
    // Copy only what the kernel did not take.
    size_t skip = written;
    for (unsigned i = 0; i < count; ++i) {
      size_t len = bufs[i].len;
      if (skip >= len) {
        skip -= len;
        continue;
      }
      pending_.append_owned(bufs[i].base + skip, len - skip);
      skip = 0;
    }
  } catch (...) {
    fail(UV_ENOMEM);
    return false;
  }
  return write_queued();
}

void WriteQueue::uncork() noexcept {
  corked_ = false;
  if (writing_ || pending_.empty() || failed_) return;
  if (uv_is_closing(reinterpret_cast<uv_handle_t*>(stream_))) {
    pending_.clear(kKeepCapacity);  // the stream was closed meanwhile: nowhere to go
    return;
  }
  std::vector<uv_buf_t>& bufs = bufs_scratch();
  if (!list_buffers(pending_, bufs)) return;
  std::size_t written = 0;
  if (!try_write_now(bufs.data(), static_cast<unsigned>(bufs.size()), written)) return;
  pending_.drop_front(written);
  if (pending_.empty()) return;
  if (pending() > kHighWaterMark) above_high_water_ = true;
  start_write();
}

bool WriteQueue::list_buffers(const PendingBytes& bytes, std::vector<uv_buf_t>& bufs) noexcept {
  try {
    bytes.fill_bufs(bufs);
    return true;
  } catch (...) {
    fail(UV_ENOMEM);
    return false;
  }
}

void WriteQueue::start_write() noexcept {
  pending_.swap(in_flight_);
  pending_.clear(kKeepAll);
  std::vector<uv_buf_t>& bufs = bufs_scratch();
  if (!list_buffers(in_flight_, bufs)) return;
  request_.data = this;
  // libuv copies the buffer list into the request: the scratch is free again.
  int err = uv_write(&request_, stream_, bufs.data(), static_cast<unsigned>(bufs.size()), &WriteQueue::on_write_done);
  if (err != 0) {
    fail(err);
    return;
  }
  writing_ = true;
}

void WriteQueue::on_write_done(uv_write_t* req, int status) noexcept {
  auto* self = static_cast<WriteQueue*>(req->data);
  self->writing_ = false;
  self->in_flight_.clear(kKeepAll);  // and lets go of its shared blocks
  if (status == UV_ECANCELED || uv_is_closing(as_handle(self->stream_))) {
    // The stream was closed under us (a write that had completed is called
    // back with its own status then): the owner closed it, so it knows.
    self->failed_ = true;
    self->pending_.clear(kKeepAll);
    self->release_large_buffers();
    return;
  }
  if (status != 0 || self->failure_ != 0) {
    // A failure found inside a call is the one to report: the write that
    // carried it here (see report_failure_later) wrote nothing.
    const int error = self->failure_ != 0 ? self->failure_ : status;
    self->failed_ = true;
    self->failure_ = 0;
    self->pending_.clear(kKeepAll);
    self->release_large_buffers();
    self->owner_->on_queue_error(*self, error);
    return;
  }
  if (!self->pending_.empty()) {
    self->start_write();
    if (self->failed_) return;
  } else {
    self->release_large_buffers();
  }
  if (self->above_high_water_ && self->pending() <= kLowWaterMark) {
    self->above_high_water_ = false;
    self->owner_->on_queue_drained(*self);
  }
  if (self->finishing_ && !self->finished_ && !self->writing_ && self->pending_.empty()) {
    self->finished_ = true;
    self->owner_->on_queue_finished(*self);
  }
}

void WriteQueue::finish_then() noexcept {
  if (finishing_) return;
  uncork();
  if (tls_ != nullptr && !failed_) {
    // close_notify tells the peer the data ended here, not by truncation.
    std::string& records = ciphertext_scratch();
    records.clear();
    try {
      tls_->close(records);
    } catch (...) {
    }
    if (!records.empty()) write_raw(records.data(), records.size());
  }
  finishing_ = true;
  if (failed_) return;
  if (!writing_ && pending_.empty()) {
    finished_ = true;
    owner_->on_queue_finished(*this);
  }
}

void WriteQueue::fail(int uv_error) noexcept {
  // Found inside write(), uncork() or finish_then(): the caller may be in
  // the middle of changing its state, so the owner is told from a write
  // callback instead (the one in flight, or an empty one made for it).
  if (failed_) return;
  failed_ = true;
  failure_ = uv_error;
  pending_.clear(kKeepAll);
  if (!writing_) in_flight_.clear(kKeepAll);  // a uv_write that failed to start
  release_large_buffers();
  if (!writing_) report_failure_later();
}

void WriteQueue::report_failure_later() noexcept {
  // An empty write reaches the kernel as nothing at all (TLS or not), and
  // libuv calls back on the loop's next turn. It fails at once only when
  // the stream is closing or was shut down: its owner did that, and
  // needs no report.
  static char nothing = 0;
  uv_buf_t empty = make_buf(&nothing, 0);
  request_.data = this;
  if (uv_write(&request_, stream_, &empty, 1, &WriteQueue::on_write_done) == 0) {
    writing_ = true;
  } else {
    failure_ = 0;
  }
}

void WriteQueue::release_large_buffers() noexcept {
  if (pending_.empty()) pending_.clear(kKeepCapacity);
  if (!writing_) in_flight_.clear(kKeepCapacity);
}

}  // namespace wsbridge::net
