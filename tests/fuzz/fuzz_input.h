// A small reader over libFuzzer's input: the first bytes choose parameters
// (limits, how to split the rest into chunks), the remainder is the data
// under test. Keeping the choices in the input lets the fuzzer explore them
// and makes every crash reproducible from its file alone.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace wsbridge::fuzz {

inline std::vector<std::size_t> chunk_ends(std::size_t size, std::uint8_t mode, std::uint8_t seed);

// How to cut the data under test into pieces, as two bytes of the input's
// prefix chose it (see chunk_ends).
struct Chunking {
  std::uint8_t mode = 0;
  std::uint8_t seed = 0;

  std::vector<std::size_t> ends(std::size_t size) const { return chunk_ends(size, mode, seed); }
  // Never the whole at once (mode 0 becomes byte by byte): for comparing
  // a split feed with a whole one.
  std::vector<std::size_t> split_ends(std::size_t size) const {
    return chunk_ends(size, mode == 0 ? 1 : mode, seed);
  }
};

class FuzzInput {
 public:
  FuzzInput(const std::uint8_t* data, std::size_t size) noexcept : data_(data), size_(size) {}

  // Next byte of the parameter prefix; 0 once the input is used up.
  std::uint8_t take_byte() noexcept {
    if (size_ == 0) return 0;
    --size_;
    return *data_++;
  }

  // The next two bytes, mode then seed, as a Chunking.
  Chunking take_chunking() noexcept {
    Chunking chunking;
    chunking.mode = take_byte();
    chunking.seed = take_byte();
    return chunking;
  }

  // Everything not taken yet.
  std::string rest() const { return std::string(reinterpret_cast<const char*>(data_), size_); }

  // The layout of the targets that have a limit to choose: one byte for the
  // limit, two for the Chunking, the rest is the data under test.
  struct LimitChunkingData {
    std::uint8_t limit_choice;
    Chunking chunking;
    std::string data;
  };
  LimitChunkingData take_limit_chunking_data() {
    const std::uint8_t limit_choice = take_byte();
    const Chunking chunking = take_chunking();
    return {limit_choice, chunking, rest()};
  }

 private:
  const std::uint8_t* data_;
  std::size_t size_;
};

// Chunk boundaries for feeding `size` bytes, derived from `seed` with a
// tiny LCG so the same input always splits the same way. Mode 0: whole;
// 1: byte by byte; otherwise pseudo-random chunks of 1..(seed % 61 + 1) bytes.
inline std::vector<std::size_t> chunk_ends(std::size_t size, std::uint8_t mode, std::uint8_t seed) {
  std::vector<std::size_t> ends;
  if (mode % 3 == 0 || size == 0) {
    ends.push_back(size);
    return ends;
  }
  if (mode % 3 == 1) {
    for (std::size_t i = 1; i <= size; ++i) ends.push_back(i);
    return ends;
  }
  std::uint32_t state = seed * 2654435761u + 1;
  const std::uint32_t max_chunk = seed % 61u + 1;
  std::size_t at = 0;
  while (at < size) {
    state = state * 1103515245u + 12345u;
    std::size_t step = (state >> 16) % max_chunk + 1;
    at = at + step > size ? size : at + step;
    ends.push_back(at);
  }
  return ends;
}

}  // namespace wsbridge::fuzz

// libFuzzer has no assertion macro of its own; a failed invariant must crash
// (abort) so the fuzzer records the input, in every build type.
#define FUZZ_CHECK(cond)                                                                \
  do {                                                                                  \
    if (!(cond)) {                                                                      \
      std::fprintf(stderr, "FUZZ_CHECK failed: %s at %s:%d\n", #cond, __FILE__, __LINE__); \
      std::abort();                                                                     \
    }                                                                                   \
  } while (0)
