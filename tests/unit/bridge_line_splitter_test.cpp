// LineSplitter: websocketd's line rules (one "\n" or "\r\n" stripped, lone
// "\r" kept, empty lines kept), plus our bound and UTF-8-aware cuts. Output
// must not depend on how the child's output was split into reads.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "wsbridge/bridge/line_splitter.h"

using wsbridge::bridge::LineSplitter;

namespace {

struct Piece {
  std::string text;
  bool cut;
  bool operator==(const Piece& other) const { return text == other.text && cut == other.cut; }
};

std::ostream& operator<<(std::ostream& os, const Piece& p) { return os << '{' << p.text << ',' << p.cut << '}'; }

// Feeds `input` in chunks ending at `cuts`, then finishes the stream.
std::vector<Piece> split(const std::string& input, std::size_t max_line, const std::vector<std::size_t>& cuts,
                         bool finish = true) {
  LineSplitter splitter(max_line);
  std::vector<Piece> out;
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    std::string_view chunk(input.data() + begin, end - begin);
    while (auto line = splitter.next_line(chunk)) {
      out.push_back({std::string(*line), splitter.last_line_was_cut()});
      if (max_line != 0) REQUIRE(line->size() <= max_line);
    }
    REQUIRE(chunk.empty());
    if (max_line != 0) REQUIRE(splitter.buffered() <= max_line + 2);
    begin = end;
  }
  if (finish) {
    while (auto line = splitter.finish()) out.push_back({std::string(*line), splitter.last_line_was_cut()});
    REQUIRE(splitter.buffered() == 0);
  }
  return out;
}

std::size_t lead_length(unsigned char b) {
  if (b >= 0xF0 && b <= 0xF7) return 4;
  if (b >= 0xE0 && b <= 0xEF) return 3;
  if (b >= 0xC0 && b <= 0xDF) return 2;
  return 1;
}

// The specified cut: at max, moved back before the last lead byte in the
// last 3 bytes of the piece if its sequence would not fit.
std::size_t model_cut(const std::string& s, std::size_t max) {
  for (std::size_t back = 1; back <= 3 && back <= max; ++back) {
    const std::size_t at = max - back;
    const auto b = static_cast<unsigned char>(s[at]);
    if ((b & 0xC0) == 0x80) continue;
    return (at + lead_length(b) > max && at > 0) ? at : max;
  }
  return max;
}

void emit_cut(std::vector<Piece>& out, std::string content, std::size_t max) {
  while (max != 0 && content.size() > max) {
    const std::size_t at = model_cut(content, max);
    out.push_back({content.substr(0, at), true});
    content.erase(0, at);
  }
  out.push_back({content, false});
}

// Whole-input model of the same rules.
std::vector<Piece> model(const std::string& input, std::size_t max) {
  std::vector<Piece> out;
  std::size_t pos = 0;
  while (pos < input.size()) {
    const std::size_t nl = input.find('\n', pos);
    if (nl == std::string::npos) {
      emit_cut(out, input.substr(pos), max);
      break;
    }
    std::string content = input.substr(pos, nl - pos);
    if (!content.empty() && content.back() == '\r') content.pop_back();
    emit_cut(out, content, max);
    pos = nl + 1;
  }
  return out;
}

void check_every_way(const std::string& input, std::size_t max) {
  CAPTURE(input, max);
  const std::vector<Piece> expected = model(input, max);
  REQUIRE(split(input, max, {}) == expected);
  std::vector<std::size_t> bytes;
  for (std::size_t i = 1; i < input.size(); ++i) bytes.push_back(i);
  REQUIRE(split(input, max, bytes) == expected);
  for (std::size_t cut = 0; cut <= input.size(); ++cut) REQUIRE(split(input, max, {cut}) == expected);
  for (std::size_t a = 0; a <= input.size() && input.size() <= 24; ++a) {
    for (std::size_t b = a; b <= input.size(); ++b) REQUIRE(split(input, max, {a, b}) == expected);
  }
}

}  // namespace

TEST_CASE("lines end at \\n and lose one \\r", "[bridge_line_splitter_test]") {
  const std::vector<Piece> expected = {{"a", false}, {"b", false}, {"", false}, {"mid\rdle", false},
                                       {"x\r", false}, {"\r", false}, {"", false}};
  REQUIRE(split("a\r\nb\n\nmid\rdle\nx\r\r\n\r\r\n\r\n", 0, {}) == expected);
  REQUIRE(split("a\r\nb\n\nmid\rdle\nx\r\r\n\r\r\n\r\n", 100, {}) == expected);
}

TEST_CASE("the unterminated last line comes out at finish", "[bridge_line_splitter_test]") {
  REQUIRE(split("one\npartial", 0, {}) == std::vector<Piece>{{"one", false}, {"partial", false}});
  REQUIRE(split("one\npartial", 0, {}, false) == std::vector<Piece>{{"one", false}});
  // A trailing "\r" with no "\n" is content, not a terminator.
  REQUIRE(split("cr\r", 0, {}) == std::vector<Piece>{{"cr\r", false}});
  REQUIRE(split("", 0, {}).empty());
  REQUIRE(split("done\n", 0, {}) == std::vector<Piece>{{"done", false}});
}

TEST_CASE("a complete line in one chunk is not copied", "[bridge_line_splitter_test]") {
  LineSplitter splitter(64);
  const std::string data = "first\r\nsecond\nthi";
  std::string_view input = data;
  auto line = splitter.next_line(input);
  REQUIRE(line);
  REQUIRE(*line == "first");
  REQUIRE(line->data() == data.data());
  line = splitter.next_line(input);
  REQUIRE(*line == "second");
  REQUIRE(line->data() == data.data() + 7);
  REQUIRE_FALSE(splitter.next_line(input));
  REQUIRE(input.empty());
  REQUIRE(splitter.buffered() == 3);
  std::string_view more = "rd\nfourth\n";
  line = splitter.next_line(more);
  REQUIRE(*line == "third");  // joined from two chunks: from the internal buffer
  REQUIRE(splitter.buffered() == 0);
  line = splitter.next_line(more);
  REQUIRE(*line == "fourth");
  REQUIRE(line->data() == more.data() - 7);
}

TEST_CASE("a line over max_line is cut into pieces", "[bridge_line_splitter_test]") {
  REQUIRE(split("abcdefgh\n", 3, {}) ==
          std::vector<Piece>{{"abc", true}, {"def", true}, {"gh", false}});
  // Exactly max_line is not cut, with either terminator.
  REQUIRE(split("abc\nabc\r\n", 3, {}) == std::vector<Piece>{{"abc", false}, {"abc", false}});
  // max_line content then "\r\n" must not cut at the "\r", even split there.
  REQUIRE(split("abc\r\n", 3, {4}) == std::vector<Piece>{{"abc", false}});
  REQUIRE(split("abcdef\n", 3, {}) == std::vector<Piece>{{"abc", true}, {"def", false}});
  REQUIRE(split("abcd", 3, {}) == std::vector<Piece>{{"abc", true}, {"d", false}});
  REQUIRE(split("abc\r", 3, {}) == std::vector<Piece>{{"abc", true}, {"\r", false}});
}

TEST_CASE("cuts never split a UTF-8 sequence when a boundary is near", "[bridge_line_splitter_test]") {
  const std::string e_acute = "\xc3\xa9";        // 2 bytes
  const std::string euro = "\xe2\x82\xac";       // 3 bytes
  const std::string emoji = "\xf0\x9f\x98\x80";  // 4 bytes
  REQUIRE(split("ab" + e_acute + "\n", 3, {}) == std::vector<Piece>{{"ab", true}, {e_acute, false}});
  REQUIRE(split("a" + euro + "\n", 3, {}) == std::vector<Piece>{{"a", true}, {euro, false}});
  REQUIRE(split("a" + euro + "\n", 4, {}) == std::vector<Piece>{{"a" + euro, false}});
  REQUIRE(split("a" + emoji + "b\n", 4, {}) == std::vector<Piece>{{"a", true}, {emoji, true}, {"b", false}});
  REQUIRE(split(emoji + emoji + "\n", 6, {}) == std::vector<Piece>{{emoji, true}, {emoji, false}});
  SECTION("a sequence longer than the limit is split, since no boundary exists") {
    REQUIRE(split(emoji + "\n", 2, {}) == std::vector<Piece>{{"\xf0\x9f", true}, {"\x98\x80", false}});
  }
  SECTION("a run of continuation bytes is cut at the limit") {
    const std::string junk(10, '\x80');
    REQUIRE(split(junk + "\n", 4, {}) ==
            std::vector<Piece>{{junk.substr(0, 4), true}, {junk.substr(0, 4), true}, {junk.substr(0, 2), false}});
  }
  SECTION("a complete sequence at the end of the piece stays") {
    REQUIRE(split("a" + e_acute + "bc\n", 3, {}) == std::vector<Piece>{{"a" + e_acute, true}, {"bc", false}});
  }
}

TEST_CASE("any split of the input gives the same lines", "[bridge_line_splitter_test]") {
  const std::string cases[] = {
      "hello\nworld\r\n\r\n\nlast",
      "a\rb\r\r\n\r\n\n\r",
      "abcdefghij\r\nk\n",
      "abc\r\nabcd\r\nab\r\r\n",
      "x\xc3\xa9y\xe2\x82\xacz\xf0\x9f\x98\x80!\n\xf0\x9f\x98\x80\xf0\x9f\x98\x80",
      "\xc3\xc3\xc3\x80\x80\x80\x80\x80\n\xff\xfe\xfd\xfc\n",
      std::string(20, 'q'),
  };
  for (const std::string& input : cases) {
    for (const std::size_t max : {0, 1, 2, 3, 4, 5, 7, 64}) check_every_way(input, max);
  }
}

TEST_CASE("random output in random reads matches the model", "[bridge_line_splitter_test]") {
  std::mt19937 rng(20240611);
  const char alphabet[] = {'a', 'b', '\n', '\r', '\xc3', '\xa9', '\xe2', '\x82', '\xac', '\xf0', '\x9f', '\x80'};
  for (int round = 0; round < 400; ++round) {
    std::string input;
    const std::size_t length = rng() % 60;
    for (std::size_t i = 0; i < length; ++i) input += alphabet[rng() % sizeof(alphabet)];
    const std::size_t max = rng() % 9;
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < input.size(); ++i) {
      if (rng() % 4 == 0) cuts.push_back(i);
    }
    CAPTURE(input, max);
    REQUIRE(split(input, max, cuts) == model(input, max));
  }
}

TEST_CASE("a child that never prints a newline cannot grow memory", "[bridge_line_splitter_test]") {
  const std::size_t max = 1000;
  LineSplitter splitter(max);
  const std::string chunk(65536, 'z');
  std::size_t total = 0;
  for (int i = 0; i < 64; ++i) {
    std::string_view input = chunk;
    while (auto line = splitter.next_line(input)) {
      REQUIRE(line->size() == max);
      REQUIRE(splitter.last_line_was_cut());
      total += line->size();
    }
    REQUIRE(splitter.buffered() <= max + 2);
  }
  while (auto line = splitter.finish()) total += line->size();
  REQUIRE(total == 64 * chunk.size());
}

TEST_CASE("last_line_was_cut resets for a normal line", "[bridge_line_splitter_test]") {
  LineSplitter splitter(2);
  std::string_view input = "abc\nd\n";
  REQUIRE(*splitter.next_line(input) == "ab");
  REQUIRE(splitter.last_line_was_cut());
  REQUIRE(*splitter.next_line(input) == "c");
  REQUIRE_FALSE(splitter.last_line_was_cut());
  REQUIRE(*splitter.next_line(input) == "d");
  REQUIRE_FALSE(splitter.last_line_was_cut());
  REQUIRE_FALSE(splitter.next_line(input));
  REQUIRE_FALSE(splitter.finish());
}

// Found by the UBSan build: an empty view with no storage (the child's
// stderr at end of stream) reached memchr with a null pointer, which is
// undefined even for zero bytes. Only a sanitized build can see it fail.
TEST_CASE("an empty view with a null data pointer is just no input", "[bridge_line_splitter_test]") {
  for (const std::size_t max_line : {std::size_t{0}, std::size_t{4}}) {
    LineSplitter splitter(max_line);
    std::string_view nothing;
    REQUIRE(nothing.data() == nullptr);
    REQUIRE_FALSE(splitter.next_line(nothing));
    std::string_view partial = "ab";
    REQUIRE_FALSE(splitter.next_line(partial));
    nothing = {};
    REQUIRE_FALSE(splitter.next_line(nothing));  // the buffered path, with nothing to add
    REQUIRE(*splitter.finish() == "ab");
    REQUIRE_FALSE(splitter.finish());
  }
}

// An idle connection must not keep the memory of its largest line: once a
// long line has been handed out, the call that follows (the caller's loop
// ends with one returning nullopt) gives both buffers back.
TEST_CASE("a long line's buffers are given back once it has been handed out", "[bridge_line_splitter_test]") {
  constexpr std::size_t kLong = 4 * 1024 * 1024;
  const std::string big(kLong, 'x');
  for (const std::size_t max_line : {std::size_t{0}, std::size_t{64} * 1024 * 1024}) {
    LineSplitter splitter(max_line);
    std::size_t lines = 0;
    // In pipe-sized reads, as a child's stdout arrives, so the line is
    // assembled in the splitter rather than handed out from the input.
    const std::string stream = big + "\nshort\n";
    for (std::size_t at = 0; at < stream.size(); at += 65536) {
      std::string_view chunk(stream.data() + at, std::min<std::size_t>(65536, stream.size() - at));
      while (auto line = splitter.next_line(chunk)) {
        CHECK(line->size() == (lines == 0 ? kLong : 5));
        ++lines;
      }
    }
    CHECK(lines == 2);
    CHECK(splitter.buffered() == 0);
    CHECK(splitter.buffer_capacity() <= LineSplitter::kRetainedBufferCapacity);
  }
}

TEST_CASE("a long unterminated tail's buffers are given back after finish", "[bridge_line_splitter_test]") {
  LineSplitter splitter(0);
  const std::string big(1024 * 1024, 'y');
  for (std::size_t at = 0; at < big.size(); at += 4096) {
    std::string_view chunk(big.data() + at, 4096);
    REQUIRE_FALSE(splitter.next_line(chunk));
  }
  CHECK(splitter.buffer_capacity() >= big.size());
  REQUIRE(splitter.finish()->size() == big.size());
  REQUIRE_FALSE(splitter.finish());
  CHECK(splitter.buffer_capacity() <= LineSplitter::kRetainedBufferCapacity);
}

TEST_CASE("lines cut at a large max_line do not leave the cut's capacity behind", "[bridge_line_splitter_test]") {
  constexpr std::size_t kMax = 256 * 1024;
  LineSplitter splitter(kMax);
  // Three and a half pieces with no newline, then a newline: idle after it.
  const std::string stream = std::string(kMax * 7 / 2, 'z') + "\n";
  std::size_t total = 0;
  for (std::size_t at = 0; at < stream.size(); at += 65536) {
    std::string_view chunk(stream.data() + at, std::min<std::size_t>(65536, stream.size() - at));
    while (auto line = splitter.next_line(chunk)) total += line->size();
  }
  CHECK(total == kMax * 7 / 2);
  CHECK(splitter.buffered() == 0);
  CHECK(splitter.buffer_capacity() <= LineSplitter::kRetainedBufferCapacity);
}

TEST_CASE("lines under the retained capacity keep their buffers for reuse", "[bridge_line_splitter_test]") {
  LineSplitter splitter(0);
  const std::string stream = std::string(20000, 'a') + "\n";
  std::size_t lines = 0;
  for (int round = 0; round < 2; ++round) {
    for (std::size_t at = 0; at < stream.size(); at += 4096) {
      std::string_view chunk(stream.data() + at, std::min<std::size_t>(4096, stream.size() - at));
      while (splitter.next_line(chunk)) ++lines;
    }
  }
  CHECK(lines == 2);
  CHECK(splitter.buffer_capacity() >= 20000);
}
