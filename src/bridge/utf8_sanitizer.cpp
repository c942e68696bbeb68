#include "wsbridge/bridge/utf8_sanitizer.h"

#include <cstdint>
#include <cstring>

namespace wsbridge::bridge {
namespace {

// One step of the WHATWG UTF-8 decoder (Encoding Standard §4.1): from
// data[at], either a valid sequence of `length` bytes, or an invalid
// "maximal subpart" of `length` bytes that becomes exactly one U+FFFD.
struct Step {
  std::size_t length;
  bool valid;
};

Step decode_step(const unsigned char* data, std::size_t size, std::size_t at) noexcept {
  const unsigned char lead = data[at];
  if (lead < 0x80) return {1, true};
  std::size_t needed = 0;
  // The second byte's range excludes overlong forms (E0, F0), UTF-16
  // surrogates (ED) and code points above U+10FFFF (F4).
  unsigned char lower = 0x80;
  unsigned char upper = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    needed = 1;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    needed = 2;
    if (lead == 0xE0) lower = 0xA0;
    if (lead == 0xED) upper = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    needed = 3;
    if (lead == 0xF0) lower = 0x90;
    if (lead == 0xF4) upper = 0x8F;
  } else {
    return {1, false};  // C0, C1, F5..FF, or a stray continuation byte
  }
  std::size_t length = 1;
  while (length <= needed) {
    if (at + length >= size) return {length, false};  // truncated at the end
    const unsigned char b = data[at + length];
    if (b < lower || b > upper) return {length, false};  // b starts the next step
    lower = 0x80;
    upper = 0xBF;
    ++length;
  }
  return {length, true};
}

// Index of the first byte that is not part of valid UTF-8, or size.
std::size_t first_invalid(const unsigned char* data, std::size_t size) noexcept {
  std::size_t at = 0;
  while (at < size) {
    // Child output is mostly ASCII: skip it eight bytes at a time.
    while (at + 8 <= size) {
      std::uint64_t word;
      std::memcpy(&word, data + at, sizeof word);
      if ((word & 0x8080808080808080ull) != 0) break;
      at += 8;
    }
    if (at >= size) break;
    const Step step = decode_step(data, size, at);
    if (!step.valid) return at;
    at += step.length;
  }
  return size;
}

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

}  // namespace

std::string_view sanitize_utf8(std::string_view text, std::string& scratch) {
  const auto* data = reinterpret_cast<const unsigned char*>(text.data());
  const std::size_t size = text.size();
  std::size_t at = first_invalid(data, size);
  if (at == size) return text;  // the common case: no copy

  scratch.clear();
  scratch.reserve(size + 8);
  scratch.append(text.data(), at);
  while (at < size) {
    const Step step = decode_step(data, size, at);
    if (step.valid) {
      scratch.append(text.data() + at, step.length);
    } else {
      scratch.append(kReplacement, 3);
    }
    at += step.length;
  }
  return scratch;
}

}  // namespace wsbridge::bridge
