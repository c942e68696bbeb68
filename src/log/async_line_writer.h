// Writes log lines to a descriptor on a thread of its own, so a log reader
// that falls behind (a stuck journald, a full pipe, `wsbridge | slow-reader`)
// never stops an event loop: before this, stdout's blocking writes stalled
// the whole server once 64 KiB of lines were waiting in the pipe.
//
// Why one writer thread rather than non-blocking writes from each loop:
// stdout is usually a descriptor the server shares with whoever started it
// (a terminal, journald's stream, a shell pipe). O_NONBLOCK is a flag of that
// shared open file, so setting it would change it for those processes too.
// A thread may block in write(2) without harming anyone, and one queue keeps
// the lines of every loop in the order they were logged.
//
// Memory is bounded: past kMaxQueuedBytes, lines are dropped and counted;
// once the reader catches up, one line says how many were lost.
#pragma once
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>

namespace wsbridge::log {

class AsyncLineWriter {
 public:
  // Lines waiting for the reader at most; a burst of access lines from
  // thousands of connections fits, a stalled reader costs no more than this.
  static constexpr std::size_t kMaxQueuedBytes = 1024 * 1024;

  // `report_drops` formats the line that says how many lines were dropped.
  using DropReport = std::string (*)(std::uint64_t dropped);

  AsyncLineWriter(int fd, DropReport report_drops) noexcept;
  AsyncLineWriter(const AsyncLineWriter&) = delete;
  AsyncLineWriter& operator=(const AsyncLineWriter&) = delete;

  // Starts the thread. False when it cannot be started (the caller then
  // writes lines itself, as before).
  [[nodiscard]] bool start() noexcept;

  // Queues one whole line (with its newline). Never blocks on the reader;
  // false when the line was dropped because the queue is full.
  bool enqueue(std::string_view line) noexcept;

  // Waits up to `timeout_ms` for every queued line to be written, for an
  // orderly exit. The thread is never joined: a reader that never reads
  // must not hold the server's exit, and the process ends it.
  void flush(unsigned timeout_ms) noexcept;

  // Lines dropped since start (for metrics and tests).
  std::uint64_t dropped_total() const noexcept;

 private:
  void run() noexcept;
  // Writes all of `bytes`, retrying partial writes; gives up on an error
  // (a closed reader), since nobody is left to read the lines.
  void write_all(const std::string& bytes) noexcept;

  const int fd_;
  const DropReport report_drops_;
  mutable std::mutex mutex_;
  std::condition_variable wake_writer_;
  std::condition_variable drained_;
  std::string pending_;              // lines not yet handed to the thread
  std::uint64_t dropped_unreported_ = 0;
  std::uint64_t dropped_total_ = 0;
  bool writing_ = false;             // the thread holds a batch
  std::thread thread_;
};

}  // namespace wsbridge::log
