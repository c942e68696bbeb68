// What every worker loop shares with the others (--workers): each member
// here is safe to use from any thread. Everything else a loop touches is its
// own (ServerContext, connections, handles), so workers never lock on the
// hot path; these are touched once per connection at most.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>

#include "wsbridge/metrics/loop_counter.h"
#include "wsbridge/tls/tls_context.h"

namespace wsbridge::net {

// --maxforks across every worker: a slot is taken before a child is spawned
// and given back when it is reaped. Taking is one compare-and-swap, so the
// limit is exact however many loops race for the last slot.
class ForkSlots {
 public:
  // `limit` <= 0 means unlimited (the count is still kept, for status lines).
  explicit ForkSlots(int limit = 0) noexcept : limit_(limit) {}

  // True when a new child would exceed the limit now; an early refusal that
  // saves work, never a promise (take() decides).
  bool exhausted() const noexcept { return limit_ > 0 && active_.load(std::memory_order_relaxed) >= limit_; }
  // Takes a slot; false when all are in use.
  [[nodiscard]] bool take() noexcept {
    int active = active_.load(std::memory_order_relaxed);
    do {
      if (limit_ > 0 && active >= limit_) return false;
    } while (!active_.compare_exchange_weak(active, active + 1, std::memory_order_relaxed));
    return true;
  }
  void release() noexcept { active_.fetch_sub(1, std::memory_order_relaxed); }
  int active() const noexcept { return active_.load(std::memory_order_relaxed); }

 private:
  int limit_;
  std::atomic<int> active_{0};
};

// websocketd uses the nanosecond clock as UNIQUE_ID; two connections in the
// same nanosecond (on two workers, or one after the other on a coarse
// clock) would share it, so ours is forced to increase across all workers.
class UniqueIds {
 public:
  std::uint64_t next() noexcept;

 private:
  std::atomic<std::uint64_t> last_{0};
};

// The --ssl context. SIGHUP builds a new one on the main thread and swaps it
// in; a worker takes a reference for as long as it creates one session (the
// session's SSL object then holds the SSL_CTX itself), so an old context
// lives exactly as long as a connection still uses it.
class SharedTls {
 public:
  std::shared_ptr<const tls::TlsContext> current() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return context_;
  }
  void replace(std::shared_ptr<const tls::TlsContext> next) {
    std::lock_guard<std::mutex> lock(mutex_);
    // The old context leaves with `next`, after the lock is released.
    context_.swap(next);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const tls::TlsContext> context_;
};

// A count one loop changes and another thread reads (see metrics/loop_counter.h).
using LoopCounter = metrics::LoopCounter;

}  // namespace wsbridge::net
