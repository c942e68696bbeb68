// sanitize_utf8 against the WHATWG decoder's "maximal subpart" rule (the same
// replacement count browsers' TextDecoder and Unicode §3.9 recommend).
#include <catch2/catch.hpp>

#include <random>
#include <string>

#include "wsbridge/bridge/utf8_sanitizer.h"

using wsbridge::bridge::sanitize_utf8;

namespace {

const std::string R = "\xEF\xBF\xBD";  // U+FFFD

std::string sanitized(const std::string& in) {
  std::string scratch;
  return std::string(sanitize_utf8(in, scratch));
}

// Reference: decode to code points with an independent, textbook decoder
// that checks each candidate sequence by value (overlong, surrogate, range),
// then re-encodes. Invalid input is replaced per maximal subpart: the longest
// prefix that could still start a valid sequence.
bool prefix_could_be_valid(const std::string& s, std::size_t at, std::size_t len) {
  // Try every completion with continuation bytes: is any full sequence valid?
  const auto lead = static_cast<unsigned char>(s[at]);
  std::size_t total = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
  if (total == 1 || len > total) return false;
  for (std::size_t i = 1; i < len; ++i) {
    if ((static_cast<unsigned char>(s[at + i]) & 0xC0) != 0x80) return false;
  }
  // Smallest and largest code points reachable from this prefix.
  std::uint32_t lo = lead & (0x7F >> total);
  for (std::size_t i = 1; i < len; ++i) lo = (lo << 6) | (static_cast<unsigned char>(s[at + i]) & 0x3F);
  std::uint32_t hi = lo;
  for (std::size_t i = len; i < total; ++i) {
    lo <<= 6;
    hi = (hi << 6) | 0x3F;
  }
  const std::uint32_t min_for_length[] = {0, 0, 0x80, 0x800, 0x10000};
  if (hi < min_for_length[total] || lo > 0x10FFFF) return false;
  if (lo >= 0xD800 && hi <= 0xDFFF) return false;  // all surrogates
  return !(lead == 0xF4 && lo > 0x10FFFF);
}

std::string reference(const std::string& s) {
  std::string out;
  std::size_t at = 0;
  while (at < s.size()) {
    const auto lead = static_cast<unsigned char>(s[at]);
    if (lead < 0x80) {
      out += s[at++];
      continue;
    }
    const std::size_t total = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
    std::size_t len = 1;
    while (len < total && at + len < s.size() && prefix_could_be_valid(s, at, len + 1)) ++len;
    if (len == total && prefix_could_be_valid(s, at, len) && total > 1) {
      out.append(s, at, len);
    } else {
      out += R;
      if (len == 0) len = 1;
    }
    at += len;
  }
  return out;
}

}  // namespace

TEST_CASE("valid text comes back as the same view", "[bridge_utf8_sanitizer_test]") {
  std::string scratch = "untouched";
  for (const std::string& in : {std::string(), std::string("plain ascii line"), std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
                               std::string("\xef\xbf\xbd already a replacement"), std::string("\xf4\x8f\xbf\xbf"),
                               std::string("\xed\x9f\xbf\xee\x80\x80"), std::string("nul\0byte", 8)}) {
    CAPTURE(in);
    const std::string_view out = sanitize_utf8(in, scratch);
    REQUIRE(out.data() == in.data());
    REQUIRE(out.size() == in.size());
  }
  REQUIRE(scratch == "untouched");
}

TEST_CASE("maximal subparts become one U+FFFD each", "[bridge_utf8_sanitizer_test]") {
  struct Case {
    std::string in;
    std::string out;
  };
  const Case cases[] = {
      {"\xff", R},
      {"\xff\xfe", R + R},
      {"a\x80" "b", "a" + R + "b"},
      {"\xc0\xaf", R + R},                  // overlong '/': C0 is never valid
      {"\xc1\xbf", R + R},
      {"\xe0\x80\xaf", R + R + R},          // overlong: E0 needs A0..BF next
      {"\xe0\xa0", R},                      // truncated 3-byte: one replacement
      {"\xe2\x82", R},
      {"\xe2\x82x", R + "x"},
      {"\xed\xa0\x80", R + R + R},          // UTF-16 surrogate D800
      {"\xf0\x80\x80\x80", R + R + R + R},  // overlong 4-byte
      {"\xf0\x9f\x98", R},                  // truncated emoji
      {"\xf0\x9f\x98" "A", R + "A"},
      {"\xf4\x90\x80\x80", R + R + R + R},  // above U+10FFFF
      {"\xf5\x80\x80\x80", R + R + R + R},
      {"\xc3", R},
      {"\xc3\xc3\xa9", R + "\xc3\xa9"},     // the second C3 starts a fresh sequence
      {"\xe2\xf0\x9f\x98\x80", R + "\xf0\x9f\x98\x80"},
      // The Unicode Standard's table 3-8 example: 61 F1 80 80 E1 80 C2 62 80 63 80 BF 64.
      {"a\xf1\x80\x80\xe1\x80\xc2" "b\x80" "c\x80\xbf" "d", "a" + R + R + R + "b" + R + "c" + R + R + "d"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    REQUIRE(sanitized(c.in) == c.out);
    REQUIRE(reference(c.in) == c.out);
  }
}

TEST_CASE("invalid bytes after a long ASCII run are found", "[bridge_utf8_sanitizer_test]") {
  for (std::size_t prefix = 0; prefix < 20; ++prefix) {
    const std::string in = std::string(prefix, 'x') + "\xff" + std::string(prefix, 'y');
    CAPTURE(prefix);
    REQUIRE(sanitized(in) == std::string(prefix, 'x') + R + std::string(prefix, 'y'));
  }
}

TEST_CASE("random bytes match the reference decoder", "[bridge_utf8_sanitizer_test]") {
  std::mt19937 rng(7);
  const unsigned char interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2,
                                       0xDF, 0xE0, 0xE1, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
  for (int round = 0; round < 20000; ++round) {
    std::string in;
    const std::size_t length = rng() % 12;
    for (std::size_t i = 0; i < length; ++i) in += static_cast<char>(interesting[rng() % sizeof(interesting)]);
    CAPTURE(in);
    const std::string out = sanitized(in);
    REQUIRE(out == reference(in));
    // The output is always valid, so a second pass is the identity.
    std::string scratch;
    REQUIRE(sanitize_utf8(out, scratch).data() == out.data());
  }
}
