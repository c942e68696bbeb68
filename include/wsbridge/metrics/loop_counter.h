// A count one event loop changes and other threads (the metrics scrape, the
// systemd status line) read. Only the owning loop writes, so an increment is
// a relaxed load and store rather than an atomic read-modify-write: no lock
// and no bus lock on the message path. Readers get a recent value, which is
// all a scrape needs.
#pragma once
#include <atomic>
#include <cstdint>

namespace wsbridge::metrics {

class LoopCounter {
 public:
  LoopCounter() = default;
  // Copyable as a value, so a worker's state can be copied from a prototype.
  LoopCounter(const LoopCounter& other) noexcept : value_(other.load()) {}
  LoopCounter& operator=(const LoopCounter& other) noexcept {
    value_.store(other.load(), std::memory_order_relaxed);
    return *this;
  }
  LoopCounter& operator++() noexcept { return add(1); }
  LoopCounter& operator--() noexcept {
    value_.store(load() - 1, std::memory_order_relaxed);
    return *this;
  }
  LoopCounter& add(std::uint64_t amount) noexcept {
    value_.store(load() + amount, std::memory_order_relaxed);
    return *this;
  }
  LoopCounter& operator+=(std::uint64_t amount) noexcept { return add(amount); }
  operator std::uint64_t() const noexcept { return load(); }
  std::uint64_t load() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

}  // namespace wsbridge::metrics
