// Differential fuzzing of the two UTF-8 implementations against each other
// and against a plain reference decoder written from RFC 3629's table:
//  - ws::Utf8Validator (a DFA fed in arbitrary splits) and is_valid_utf8,
//  - bridge::sanitize_utf8 (WHATWG replacement), whose output must always be
//    valid, must be the input itself exactly when the input is valid, and
//    must keep every valid sequence of the input.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/bridge/utf8_sanitizer.h"
#include "wsbridge/ws/utf8_validator.h"

using wsbridge::fuzz::FuzzInput;

namespace {

// RFC 3629 §4 "UTF8-octets", checked the slow, obvious way: decode each code
// point and reject overlong forms, surrogates and values above U+10FFFF.
bool reference_valid(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<unsigned char>(s[i]);
    std::size_t n;
    std::uint32_t cp;
    if (b < 0x80) {
      ++i;
      continue;
    } else if ((b & 0xE0) == 0xC0) {
      n = 2;
      cp = b & 0x1F;
    } else if ((b & 0xF0) == 0xE0) {
      n = 3;
      cp = b & 0x0F;
    } else if ((b & 0xF8) == 0xF0) {
      n = 4;
      cp = b & 0x07;
    } else {
      return false;
    }
    if (i + n > s.size()) return false;
    for (std::size_t k = 1; k < n; ++k) {
      const auto c = static_cast<unsigned char>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3F);
    }
    static constexpr std::uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMinimum[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += n;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const auto chunking = in.take_chunking();
  const std::string text = in.rest();
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());

  const bool expected = reference_valid(text);
  FUZZ_CHECK(wsbridge::ws::is_valid_utf8(bytes, text.size()) == expected);

  // Fed in pieces: once feed() says false it must stay false, and a stream
  // it accepted to the end is valid exactly when finish() says so.
  wsbridge::ws::Utf8Validator validator;
  bool alive = true;
  std::size_t begin = 0;
  for (const std::size_t end : chunking.ends(text.size())) {
    const bool ok = validator.feed(bytes + begin, end - begin);
    if (!alive) FUZZ_CHECK(!ok);
    alive = alive && ok;
    begin = end;
  }
  FUZZ_CHECK((alive && validator.finish()) == expected);
  if (!alive) FUZZ_CHECK(!expected);
  validator.reset();
  FUZZ_CHECK(validator.finish());

  std::string scratch;
  const std::string_view clean = wsbridge::bridge::sanitize_utf8(text, scratch);
  FUZZ_CHECK(reference_valid(std::string(clean)));
  if (expected) {
    // Valid input comes back as itself, without a copy.
    FUZZ_CHECK(clean.data() == text.data() && clean.size() == text.size());
  } else {
    FUZZ_CHECK(clean != std::string_view(text));
    FUZZ_CHECK(clean.find("\xEF\xBF\xBD") != std::string_view::npos);
    // Each invalid byte becomes at most one U+FFFD (3 bytes).
    FUZZ_CHECK(clean.size() <= 3 * text.size());
  }
  // ASCII is never touched: every ASCII byte of the input survives, in order.
  std::string ascii_in, ascii_out;
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x80) ascii_in += c;
  }
  for (const char c : clean) {
    if (static_cast<unsigned char>(c) < 0x80) ascii_out += c;
  }
  FUZZ_CHECK(ascii_in == ascii_out);
  // Sanitising is idempotent.
  std::string scratch2;
  const std::string copy(clean);
  const std::string_view again = wsbridge::bridge::sanitize_utf8(copy, scratch2);
  FUZZ_CHECK(again.data() == copy.data());
  return 0;
}
