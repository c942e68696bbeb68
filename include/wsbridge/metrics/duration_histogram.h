// A histogram of durations with fixed bucket bounds, kept the way the
// Prometheus text format wants it read: a count per bucket, the sum and the
// number of observations. `Count` is LoopCounter for the one loop that
// observes, std::uint64_t for a scrape's sum over loops.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>

namespace wsbridge::metrics {

// Upper bounds in microseconds: from 1 ms (a warm fork and exec) to 5 s
// (a program held up by a slow disk or a --maxforks queue); slower ones land
// in the implicit +Inf bucket.
inline constexpr std::array<std::uint64_t, 12> kDurationBucketBoundsUs = {
    1'000, 2'500, 5'000, 10'000, 25'000, 50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000, 5'000'000};

template <typename Count>
struct DurationHistogram {
  // One more than the bounds: the last slot is +Inf. Not cumulative here
  // (one increment per observation); the exposition adds them up.
  std::array<Count, kDurationBucketBoundsUs.size() + 1> buckets{};
  Count sum_us{};
  Count observations{};

  void observe(std::uint64_t duration_us) noexcept {
    std::size_t slot = 0;
    while (slot < kDurationBucketBoundsUs.size() && duration_us > kDurationBucketBoundsUs[slot]) ++slot;
    ++buckets[slot];
    sum_us += duration_us;
    ++observations;
  }
};

}  // namespace wsbridge::metrics
