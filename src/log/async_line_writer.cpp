#include "log/async_line_writer.h"

#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <system_error>

namespace wsbridge::log {

AsyncLineWriter::AsyncLineWriter(int fd, DropReport report_drops) noexcept
    : fd_(fd), report_drops_(report_drops) {}

bool AsyncLineWriter::start() noexcept {
  try {
    pending_.reserve(64 * 1024);
    thread_ = std::thread([this] { run(); });
    pthread_setname_np(thread_.native_handle(), "wsbridge-log");
    // Never joined (see flush); the process's exit ends it.
    thread_.detach();
    return true;
  } catch (const std::exception&) {
    // No thread (resource limits) or no memory: the caller writes itself.
    return false;
  }
}

bool AsyncLineWriter::enqueue(std::string_view line) noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (pending_.size() + line.size() > kMaxQueuedBytes) {
    ++dropped_unreported_;
    ++dropped_total_;
    return false;
  }
  try {
    pending_.append(line);
  } catch (const std::bad_alloc&) {
    ++dropped_unreported_;
    ++dropped_total_;
    return false;
  }
  wake_writer_.notify_one();
  return true;
}

void AsyncLineWriter::flush(unsigned timeout_ms) noexcept {
  std::unique_lock<std::mutex> lock(mutex_);
  drained_.wait_for(lock, std::chrono::milliseconds(timeout_ms),
                    [this] { return pending_.empty() && !writing_; });
}

std::uint64_t AsyncLineWriter::dropped_total() const noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  return dropped_total_;
}

void AsyncLineWriter::run() noexcept {
  std::string batch;
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_writer_.wait(lock, [this] { return !pending_.empty(); });
    // Swap rather than copy: the loops go on queueing into an empty buffer
    // while this thread writes (and maybe blocks on) the batch.
    batch.clear();
    batch.swap(pending_);
    writing_ = true;
    lock.unlock();
    write_all(batch);
    lock.lock();
    writing_ = false;
    // The reader has taken everything up to here: say what it missed, once.
    if (dropped_unreported_ != 0 && pending_.empty()) {
      const std::uint64_t dropped = dropped_unreported_;
      dropped_unreported_ = 0;
      lock.unlock();
      try {
        write_all(report_drops_(dropped));
      } catch (const std::exception&) {
        // No memory for the report line: the count stays in dropped_total().
      }
      lock.lock();
    }
    if (pending_.empty()) drained_.notify_all();
    // Keep a batch buffer of a typical size, not the largest burst's.
    if (batch.capacity() > 256 * 1024) std::string().swap(batch);
  }
}

void AsyncLineWriter::write_all(const std::string& bytes) noexcept {
  const char* data = bytes.data();
  std::size_t left = bytes.size();
  while (left > 0) {
    ssize_t n = ::write(fd_, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // the reader is gone: nothing to write to
    data += n;
    left -= static_cast<std::size_t>(n);
  }
}

}  // namespace wsbridge::log
