// Fuzzes the child-output line splitter. Invariants:
//  - reassembly: walking the input, every piece is found where the previous
//    one ended, followed by "\n" or "\r\n" unless it was cut at the limit or
//    is the unterminated tail; at the end the whole input is accounted for;
//  - pieces never contain "\n" and never exceed max_line; the buffer never
//    holds more than max_line + 2 bytes;
//  - a cut never splits a valid UTF-8 sequence (when max_line >= 4);
//  - the pieces do not depend on how the input was split into reads.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/bridge/line_splitter.h"
#include "wsbridge/ws/utf8_validator.h"

using wsbridge::fuzz::FuzzInput;

namespace {

struct Piece {
  std::string text;
  bool cut = false;
  bool tail = false;  // from finish(): the unterminated end of the stream
  bool operator==(const Piece& o) const { return text == o.text && cut == o.cut && tail == o.tail; }
};

std::vector<Piece> split(const std::string& input, std::size_t max_line, const std::vector<std::size_t>& ends) {
  wsbridge::bridge::LineSplitter splitter(max_line);
  std::vector<Piece> out;
  std::size_t begin = 0;
  for (const std::size_t end : ends) {
    std::string_view chunk(input.data() + begin, end - begin);
    // Each piece consumes at least one byte, so this is bounded by the chunk.
    for (std::size_t guard = 0; guard <= end - begin + 1; ++guard) {
      const auto line = splitter.next_line(chunk);
      if (!line) break;
      out.push_back({std::string(*line), splitter.last_line_was_cut(), false});
    }
    FUZZ_CHECK(chunk.empty());
    if (max_line != 0) FUZZ_CHECK(splitter.buffered() <= max_line + 2);
    begin = end;
  }
  for (std::size_t guard = 0; guard <= input.size() + 1; ++guard) {
    const auto line = splitter.finish();
    if (!line) break;
    out.push_back({std::string(*line), splitter.last_line_was_cut(), true});
  }
  FUZZ_CHECK(splitter.buffered() == 0);
  FUZZ_CHECK(!splitter.finish().has_value());
  return out;
}

bool valid(std::string_view s) {
  return wsbridge::ws::is_valid_utf8(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

void check_reassembly(const std::string& input, std::size_t max_line, const std::vector<Piece>& pieces) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    const Piece& piece = pieces[i];
    FUZZ_CHECK(piece.text.find('\n') == std::string::npos);
    if (max_line != 0) FUZZ_CHECK(piece.text.size() <= max_line);
    if (max_line == 0) FUZZ_CHECK(!piece.cut);
    FUZZ_CHECK(input.compare(at, piece.text.size(), piece.text) == 0);
    at += piece.text.size();
    if (piece.cut) {
      // A cut piece is as long as allowed, or shorter only to keep a UTF-8
      // sequence whole (at most 3 bytes shorter), and never empty.
      FUZZ_CHECK(!piece.text.empty());
      FUZZ_CHECK(piece.text.size() + 3 >= max_line);
      continue;
    }
    if (piece.tail) {
      FUZZ_CHECK(at == input.size() && i + 1 == pieces.size());
      continue;
    }
    if (input.compare(at, 1, "\n") == 0) {
      at += 1;
    } else {
      FUZZ_CHECK(input.compare(at, 2, "\r\n") == 0);
      at += 2;
    }
  }
  FUZZ_CHECK(at == input.size());
  // On valid text with room for any code point, cuts fall between code
  // points, so every piece is valid on its own.
  if (max_line >= 4 && valid(input)) {
    for (const Piece& piece : pieces) FUZZ_CHECK(valid(piece.text));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [limit_choice, chunking, input] = FuzzInput(data, size).take_limit_chunking_data();
  static constexpr std::size_t kLimits[] = {0, 1, 2, 3, 4, 5, 7, 16, 64, 4096};
  const std::size_t max_line = kLimits[limit_choice % 10];

  const std::vector<Piece> whole = split(input, max_line, {input.size()});
  check_reassembly(input, max_line, whole);
  const std::vector<Piece> pieces = split(input, max_line, chunking.split_ends(input.size()));
  FUZZ_CHECK(pieces == whole);
  return 0;
}
