#include "wsbridge/bridge/line_splitter.h"

#include <algorithm>
#include <cstring>

namespace wsbridge::bridge {
namespace {

bool is_continuation(char c) noexcept { return (static_cast<unsigned char>(c) & 0xC0) == 0x80; }

// memchr over [data, data + size), which may be an empty view with no
// storage at all (a default string_view, as an end-of-stream call passes):
// memchr's pointer must not be null even when size is 0 (C11 7.24.1).
const void* find_newline(const char* data, std::size_t size) noexcept {
  return size == 0 ? nullptr : std::memchr(data, '\n', size);
}

// Length a UTF-8 sequence announces in its lead byte; 1 for ASCII and for
// bytes that cannot start a sequence (those are invalid anyway, and cutting
// right after them splits nothing).
std::size_t sequence_length(char lead) noexcept {
  const auto b = static_cast<unsigned char>(lead);
  if (b >= 0xF0 && b <= 0xF7) return 4;
  if (b >= 0xE0) return b <= 0xEF ? 3 : 1;
  if (b >= 0xC0) return 2;
  return 1;
}

// Where to cut `data` (known to hold more than `limit` content bytes) so the
// piece is at most `limit` bytes and does not end inside a multi-byte
// sequence. Only the last 3 bytes are examined: a UTF-8 sequence is at most 4
// bytes long, so if none of them is a lead byte there is no boundary to move
// to and the cut stays at `limit` (the text was not valid UTF-8 there anyway).
std::size_t utf8_cut(std::string_view data, std::size_t limit) noexcept {
  const std::size_t lowest = limit > 3 ? limit - 3 : 0;
  for (std::size_t start = limit; start > lowest;) {
    --start;
    if (is_continuation(data[start])) continue;
    // data[start] begins the last sequence before the cut. Keep it whole if
    // it fits, else cut before it (unless that would leave nothing).
    if (start + sequence_length(data[start]) <= limit || start == 0) return limit;
    return start;
  }
  return limit;
}

// The next piece at the front of `data`: `length` bytes of content, followed
// by a terminator or a cut, `consumed` bytes in all.
struct Piece {
  std::size_t length = 0;
  std::size_t consumed = 0;
  bool cut = false;    // ended at max_line, not at "\n"
  bool found = false;  // false: more input is needed to decide
};

// max_line 0 means no limit.
Piece take_line(std::string_view data, std::size_t max_line, bool at_eof) noexcept {
  // With a limit, a line whose content fits ends at most at index max_line + 1
  // (max_line bytes, "\r", "\n"), so the search never needs to look further:
  // scanning a long unterminated run costs O(max_line) per piece, not O(n).
  const std::size_t window = max_line == 0 ? data.size() : std::min(data.size(), max_line + 2);
  const void* newline = find_newline(data.data(), window);
  if (newline != nullptr) {
    const auto at = static_cast<std::size_t>(static_cast<const char*>(newline) - data.data());
    const std::size_t content = (at > 0 && data[at - 1] == '\r') ? at - 1 : at;
    if (max_line == 0 || content <= max_line) return Piece{content, at + 1, false, true};
    // Exactly max_line + 1 content bytes before the "\n": cut below.
  } else if (max_line == 0 || data.size() <= max_line ||
             (!at_eof && data.size() == max_line + 1 && data[max_line] == '\r')) {
    // Not decided yet: either no limit was reached, or the byte past the
    // limit is a "\r" that a following "\n" would turn into the terminator.
    if (!at_eof || data.empty()) return Piece{};
    return Piece{data.size(), data.size(), false, true};
  }
  const std::size_t cut = utf8_cut(data, max_line);
  return Piece{cut, cut, true, true};
}

// Takes the next piece out of `partial` (the bytes of a line that began in
// an earlier chunk) into `returned`, whose storage the caller's view uses.
std::optional<std::string_view> take_buffered(std::string& partial, std::string& returned, std::size_t max_line,
                                              bool at_eof, bool& cut) {
  const Piece piece = take_line(partial, max_line, at_eof);
  if (!piece.found) return std::nullopt;
  cut = piece.cut;
  if (piece.consumed == partial.size()) {
    // The whole buffer is used: swap it out so the caller's view stays valid
    // while partial starts empty (and both buffers keep their capacity).
    returned.swap(partial);
    partial.clear();
  } else {
    // A cut: the few bytes after it start the next piece.
    returned.assign(partial, 0, piece.consumed);
    partial.erase(0, piece.consumed);
  }
  return std::string_view(returned).substr(0, piece.length);
}

}  // namespace

void LineSplitter::release_large_buffers() {
  // The view of the last line returned is no longer valid, so its storage
  // can go. Callers pull lines until nullopt, so this runs right after a
  // long line was handed out, not only when more output arrives.
  if (returned_.capacity() > kRetainedBufferCapacity) std::string().swap(returned_);
  // partial_ keeps its capacity after a swap or a cut; while it holds a line
  // still growing it keeps it (no reallocation per read).
  if (partial_.capacity() > kRetainedBufferCapacity && partial_.size() <= kRetainedBufferCapacity / 2) {
    std::string(partial_).swap(partial_);
  }
}

std::optional<std::string_view> LineSplitter::next_line(std::string_view& input) {
  last_cut_ = false;
  release_large_buffers();
  if (partial_.empty()) {
    // Fast path: the line lies entirely in `input`; hand out a view of it.
    const Piece piece = take_line(input, max_line_, false);
    if (piece.found) {
      const std::string_view line = input.substr(0, piece.length);
      input.remove_prefix(piece.consumed);
      last_cut_ = piece.cut;
      return line;
    }
    partial_.assign(input.data(), input.size());
    input = {};
    return std::nullopt;
  }

  // A line started in an earlier chunk. Move over only what can complete or
  // cut it, so partial_ never exceeds max_line + 2 bytes.
  const std::size_t room = max_line_ == 0 ? input.size() : max_line_ + 2 - partial_.size();
  const std::size_t window = std::min(input.size(), room);
  const void* newline = find_newline(input.data(), window);
  const std::size_t take =
      newline != nullptr ? static_cast<std::size_t>(static_cast<const char*>(newline) - input.data()) + 1 : window;
  partial_.append(input.data(), take);
  input.remove_prefix(take);
  return take_buffered(partial_, returned_, max_line_, false, last_cut_);
}

// Returns one piece per call: an unterminated tail longer than max_line comes
// out in several cut pieces, so callers loop until nullopt.
std::optional<std::string_view> LineSplitter::finish() {
  last_cut_ = false;
  release_large_buffers();
  return take_buffered(partial_, returned_, max_line_, true, last_cut_);
}

}  // namespace wsbridge::bridge
