// UTF-8 validation: RFC 3629 vectors, every split of every vector, the exact
// byte at which a stream is refused, and an exhaustive cross-check against a
// plain code-point decoder.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "split_plans.h"
#include "wsbridge/ws/utf8_validator.h"

using wsbridge::ws::is_valid_utf8;
using wsbridge::ws::Utf8Validator;

namespace {

const std::uint8_t* bytes(const std::string& s) { return reinterpret_cast<const std::uint8_t*>(s.data()); }

// Reference decoder, written for clarity rather than speed: decode each code
// point and check its range and minimal length.
bool reference_valid(const std::string& s) {
  std::size_t i = 0;
  while (i < s.size()) {
    const auto b = static_cast<std::uint8_t>(s[i]);
    std::size_t len = 0;
    std::uint32_t cp = 0;
    if (b < 0x80) { len = 1; cp = b; }
    else if ((b & 0xE0) == 0xC0) { len = 2; cp = b & 0x1Fu; }
    else if ((b & 0xF0) == 0xE0) { len = 3; cp = b & 0x0Fu; }
    else if ((b & 0xF8) == 0xF0) { len = 4; cp = b & 0x07u; }
    else return false;
    if (i + len > s.size()) return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto c = static_cast<std::uint8_t>(s[i + k]);
      if ((c & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (c & 0x3Fu);
    }
    static const std::uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < kMin[len] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += len;
  }
  return true;
}

// Encodes any value up to 0x1FFFFF in the UTF-8 bit pattern, without
// refusing surrogates, so invalid inputs can be built too.
std::string encode_raw(std::uint32_t cp) {
  std::string out;
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
  return out;
}

// Feeds s in the given pieces; returns {all feeds accepted, finish()}.
std::pair<bool, bool> feed_in_pieces(const std::string& s, const std::vector<std::size_t>& pieces) {
  Utf8Validator v;
  bool ok = true;
  std::size_t pos = 0;
  for (std::size_t n : pieces) {
    // A separate copy per piece, so ASan catches any read past the piece.
    std::vector<std::uint8_t> piece(s.begin() + static_cast<std::ptrdiff_t>(pos),
                                    s.begin() + static_cast<std::ptrdiff_t>(pos + n));
    const bool fed = v.feed(piece.data(), piece.size());
    if (!ok) CHECK_FALSE(fed);  // once false, stays false
    ok = ok && fed;
    pos += n;
  }
  return {ok, v.finish()};
}

struct Vector {
  const char* name;
  std::string data;
  bool valid;
  // For an invalid stream: the index of the byte at which feed() must first
  // return false, or -1 when the stream is only incomplete (finish() fails).
  int fail_at;
};

std::vector<Vector> vectors() {
  const std::string ascii40(40, 'a');
  return {
      {"empty", "", true, -1},
      {"ascii", "Hello, world", true, -1},
      {"long ascii", ascii40, true, -1},
      {"NUL and DEL", std::string("\x00\x7F", 2), true, -1},
      {"2-byte min U+0080", "\xC2\x80", true, -1},
      {"2-byte max U+07FF", "\xDF\xBF", true, -1},
      {"3-byte min U+0800", "\xE0\xA0\x80", true, -1},
      {"euro sign", "\xE2\x82\xAC", true, -1},
      {"U+D7FF before surrogates", "\xED\x9F\xBF", true, -1},
      {"U+E000 after surrogates", "\xEE\x80\x80", true, -1},
      {"U+FFFF", "\xEF\xBF\xBF", true, -1},
      {"4-byte min U+10000", "\xF0\x90\x80\x80", true, -1},
      {"valid 4-byte emoji U+1F600", "\xF0\x9F\x98\x80", true, -1},
      {"U+10FFFF max", "\xF4\x8F\xBF\xBF", true, -1},
      {"mixed", "a\xC3\xA9" "b\xE2\x82\xAC" "c\xF0\x9F\x98\x80" "d", true, -1},
      {"ascii then 4-byte at word edge", ascii40 + "\xF0\x9F\x98\x80" + ascii40, true, -1},
      {"lone continuation 0x80", "\x80", false, 0},
      {"lone continuation 0xBF", "\xBF", false, 0},
      {"continuation after ascii", "ab\x80", false, 2},
      {"overlong 2-byte C0 80 (NUL)", "\xC0\x80", false, 0},
      {"overlong 2-byte C1 BF", "\xC1\xBF", false, 0},
      {"overlong 3-byte E0 80 80", "\xE0\x80\x80", false, 1},
      {"overlong 3-byte E0 9F BF", "\xE0\x9F\xBF", false, 1},
      {"overlong 4-byte F0 80 80 80", "\xF0\x80\x80\x80", false, 1},
      {"overlong 4-byte F0 8F BF BF", "\xF0\x8F\xBF\xBF", false, 1},
      {"surrogate U+D800", "\xED\xA0\x80", false, 1},
      {"surrogate U+DBFF", "\xED\xAF\xBF", false, 1},
      {"surrogate U+DC00", "\xED\xB0\x80", false, 1},
      {"surrogate U+DFFF", "\xED\xBF\xBF", false, 1},
      {"surrogate pair as CESU-8", "\xED\xA0\xBD\xED\xB8\x80", false, 1},
      {"above U+10FFFF: F4 90 80 80", "\xF4\x90\x80\x80", false, 1},
      {"above U+10FFFF: F5", "\xF5\x80\x80\x80", false, 0},
      {"F8 5-byte lead", "\xF8\x88\x80\x80\x80", false, 0},
      {"FC 6-byte lead", "\xFC\x84\x80\x80\x80\x80", false, 0},
      {"FE", "\xFE", false, 0},
      {"FF", "\xFF", false, 0},
      {"truncated 2-byte", "\xC3", false, -1},
      {"truncated 3-byte (1 of 2)", "\xE2\x82", false, -1},
      {"truncated 4-byte (3 of 4)", "\xF0\x9F\x98", false, -1},
      {"truncated 2-byte then ascii", "\xC3" "a", false, 1},
      {"truncated 3-byte then ascii", "\xE2\x82" "a", false, 2},
      {"truncated 4-byte then lead", "\xF0\x9F\x98\xF0\x9F\x98\x80", false, 3},
      {"bad byte after long ascii", ascii40 + "\xFF", false, 40},
      {"valid then invalid", "\xE2\x82\xAC\xC0\xAF", false, 3},
  };
}

}  // namespace

TEST_CASE("UTF-8 vectors, fed whole, byte by byte and in every split", "[ws_utf8_validator_test]") {
  std::uint32_t seed = 1;
  for (const Vector& vec : vectors()) {
    INFO(vec.name);
    REQUIRE(reference_valid(vec.data) == vec.valid);  // the vectors themselves are right
    CHECK(is_valid_utf8(bytes(vec.data), vec.data.size()) == vec.valid);
    for (const auto& plan : wsbridge::test::split_plans(vec.data.size(), seed++, {true, 20, 9})) {
      const auto [fed, finished] = feed_in_pieces(vec.data, plan);
      CHECK((fed && finished) == vec.valid);
      if (vec.fail_at < 0) CHECK(fed);  // an incomplete stream is not refused early
      if (!fed) CHECK_FALSE(finished);
    }
  }
}

TEST_CASE("UTF-8 validator refuses at the first byte that proves the error", "[ws_utf8_validator_test]") {
  for (const Vector& vec : vectors()) {
    if (vec.valid) continue;
    INFO(vec.name);
    Utf8Validator v;
    int first_false = -1;
    for (std::size_t i = 0; i < vec.data.size(); ++i) {
      const bool ok = v.feed(bytes(vec.data) + i, 1);
      if (!ok && first_false < 0) first_false = static_cast<int>(i);
    }
    CHECK(first_false == vec.fail_at);
    CHECK_FALSE(v.finish());
  }
}

TEST_CASE("UTF-8 validator: reset, empty feeds and stickiness", "[ws_utf8_validator_test]") {
  Utf8Validator v;
  CHECK(v.finish());
  CHECK(v.feed(nullptr, 0));
  CHECK(v.finish());
  const std::string partial = "\xE2\x82";
  CHECK(v.feed(bytes(partial), partial.size()));
  CHECK_FALSE(v.finish());
  CHECK(v.feed(nullptr, 0));  // an empty feed neither completes nor breaks it
  CHECK_FALSE(v.finish());
  const std::string bad = "\xFF";
  CHECK_FALSE(v.feed(bytes(bad), 1));
  const std::string good = "abc";
  CHECK_FALSE(v.feed(bytes(good), good.size()));  // stays false
  CHECK_FALSE(v.finish());
  v.reset();
  CHECK(v.finish());
  CHECK(v.feed(bytes(good), good.size()));
  CHECK(v.finish());
}

TEST_CASE("UTF-8: every code point U+0000..U+10FFFF, surrogates refused", "[ws_utf8_validator_test]") {
  std::size_t mismatches = 0;
  for (std::uint32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string s = encode_raw(cp);
    const bool expected = !(cp >= 0xD800 && cp <= 0xDFFF);
    if (is_valid_utf8(bytes(s), s.size()) != expected) ++mismatches;
  }
  CHECK(mismatches == 0);
  // Just above the range, in the 4-byte pattern.
  for (std::uint32_t cp : {0x110000u, 0x13FFFFu, 0x1FFFFFu}) {
    const std::string s = encode_raw(cp);
    CHECK_FALSE(is_valid_utf8(bytes(s), s.size()));
  }
}

TEST_CASE("UTF-8: all 1- and 2-byte strings agree with the reference decoder", "[ws_utf8_validator_test]") {
  std::size_t mismatches = 0;
  for (int a = 0; a < 256; ++a) {
    std::string one(1, static_cast<char>(a));
    if (is_valid_utf8(bytes(one), 1) != reference_valid(one)) ++mismatches;
    for (int b = 0; b < 256; ++b) {
      std::string two{static_cast<char>(a), static_cast<char>(b)};
      if (is_valid_utf8(bytes(two), 2) != reference_valid(two)) ++mismatches;
    }
  }
  CHECK(mismatches == 0);
}

TEST_CASE("UTF-8: random strings of interesting bytes agree with the reference", "[ws_utf8_validator_test]") {
  // Bytes at every class boundary, plus ASCII, so random strings hit every
  // transition including the 8-byte ASCII fast path.
  const std::uint8_t interesting[] = {0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1,
                                      0xC2, 0xDF, 0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3,
                                      0xF4, 0xF5, 0xFF};
  std::mt19937 rng(12345);
  std::size_t mismatches = 0;
  std::size_t valid_count = 0;
  for (int iter = 0; iter < 200000; ++iter) {
    std::string s;
    const std::size_t len = rng() % 12;
    for (std::size_t i = 0; i < len; ++i) {
      // Mostly ASCII runs so that valid strings are common enough.
      if (rng() % 3 == 0) s.append(rng() % 10, 'x');
      s += static_cast<char>(interesting[rng() % sizeof interesting]);
    }
    const bool expected = reference_valid(s);
    valid_count += expected ? 1 : 0;
    if (is_valid_utf8(bytes(s), s.size()) != expected) ++mismatches;
    // And split in two at a random point.
    Utf8Validator v;
    const std::size_t cut = s.empty() ? 0 : rng() % (s.size() + 1);
    const bool ok = v.feed(bytes(s), cut) && v.feed(bytes(s) + cut, s.size() - cut) && v.finish();
    if (ok != expected) ++mismatches;
  }
  CHECK(mismatches == 0);
  CHECK(valid_count > 1000);
}

TEST_CASE("UTF-8 ASCII fast path: a bad byte at any offset and alignment is found", "[ws_utf8_validator_test]") {
  for (std::size_t len = 1; len <= 48; ++len) {
    for (std::size_t bad = 0; bad < len; ++bad) {
      for (std::size_t shift = 0; shift < 8; ++shift) {
        // Shift the start within a buffer so the 8-byte loads are misaligned.
        std::string buf(shift, '#');
        buf += std::string(len, 'q');
        buf[shift + bad] = '\x80';
        INFO("len " << len << " bad " << bad << " shift " << shift);
        REQUIRE_FALSE(is_valid_utf8(bytes(buf) + shift, len));
        buf[shift + bad] = 'q';
        REQUIRE(is_valid_utf8(bytes(buf) + shift, len));
      }
    }
  }
}
