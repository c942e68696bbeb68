// Ways to cut one input into pieces, for the tests that feed a parser its
// bytes as they might arrive: whole, byte by byte, in two at every byte, and
// in random pieces, and a loop that feeds a pull parser those pieces. A
// parser's results must not depend on the cut.
#pragma once
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <random>
#include <vector>

namespace wsbridge::test {

struct SplitPlanOptions {
  // Two-piece cuts at every byte: n plans, so only for short inputs.
  bool every_split = true;
  // Random plans, and the largest piece one of them may have.
  int random_plans = 25;
  std::size_t largest_piece = 17;
};

// Each plan lists piece sizes that add up to n. The same seed gives the same
// plans, so a failure names a cut that can be run again.
inline std::vector<std::vector<std::size_t>> split_plans(std::size_t n, std::uint32_t seed,
                                                         const SplitPlanOptions& options = {}) {
  std::vector<std::vector<std::size_t>> plans;
  plans.push_back({n});
  plans.push_back(std::vector<std::size_t>(n, 1));
  if (options.every_split) {
    for (std::size_t k = 1; k < n; ++k) plans.push_back({k, n - k});
  }
  std::mt19937 rng(seed);
  for (int r = 0; r < options.random_plans; ++r) {
    std::vector<std::size_t> plan;
    std::size_t left = n;
    while (left > 0) {
      const std::size_t take = std::min<std::size_t>(left, 1 + rng() % options.largest_piece);
      plan.push_back(take);
      left -= take;
    }
    plans.push_back(plan);
  }
  return plans;
}

// What one call of a pull parser said: call again on the rest of the piece,
// the piece is used up (the parser needs more), or stop feeding (the test has
// seen what it wanted, e.g. an error).
enum class Fed { Again, NeedMore, Stop };

// Feeds `input` in pieces of the given sizes, each a heap copy of its own so
// that ASan catches a read past its end. step(data, size, used) gets what is
// left of the current piece and sets `used` to the bytes it consumed; `used`
// starts out larger than any piece, so a parser that does not set it fails.
// NeedMore must come only once the piece is used up. False after a Stop.
template <typename Bytes, typename Step>
bool feed_pieces(const Bytes& input, const std::vector<std::size_t>& pieces, Step step) {
  std::size_t pos = 0;
  for (const std::size_t n : pieces) {
    Bytes piece(input.begin() + static_cast<std::ptrdiff_t>(pos),
                input.begin() + static_cast<std::ptrdiff_t>(pos + n));
    pos += n;
    std::size_t off = 0;
    for (;;) {
      std::size_t used = piece.size() + 1;
      const Fed fed = step(piece.data() + off, piece.size() - off, used);
      REQUIRE(used <= piece.size() - off);
      off += used;
      if (fed == Fed::Stop) return false;
      if (fed == Fed::NeedMore) {
        REQUIRE(off == piece.size());
        break;
      }
    }
  }
  return true;
}

}  // namespace wsbridge::test
