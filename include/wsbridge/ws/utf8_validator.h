// Incremental UTF-8 validation (RFC 3629): feed bytes as they arrive, across
// any split, and learn at the first byte that can never become valid.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wsbridge::ws {

class Utf8Validator {
 public:
  // Validates the next bytes of a stream. Returns false as soon as the stream
  // can no longer be valid UTF-8 (overlong forms, surrogates, > U+10FFFF,
  // stray continuation bytes). Once false, stays false until reset().
  [[nodiscard]] bool feed(const std::uint8_t* data, std::size_t size) noexcept;
  // True when everything fed so far is valid and no code point is left open.
  [[nodiscard]] bool finish() const noexcept;
  void reset() noexcept;

 private:
  std::uint32_t state_ = 0;  // DFA state: 0 = accept, 1 = reject, other = mid code point
};

// Convenience for whole buffers.
[[nodiscard]] bool is_valid_utf8(const std::uint8_t* data, std::size_t size) noexcept;

}  // namespace wsbridge::ws
