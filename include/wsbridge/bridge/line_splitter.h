// Splits a child's stdout into lines, websocketd's way: a line ends at "\n";
// the "\n" and one "\r" just before it are removed; empty lines are lines.
// Bounded: a line longer than max_line bytes is cut into max_line-byte pieces
// (cut back to a UTF-8 boundary), so a child that never prints "\n" cannot
// grow memory. Sans-IO: it returns lines, it never calls out.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace wsbridge::bridge {

class LineSplitter {
 public:
  explicit LineSplitter(std::size_t max_line) : max_line_(max_line) {}

  // Returns the next complete line from what was buffered plus `input`, and
  // advances `input` past the bytes used. Returns nullopt when `input` is
  // used up without completing a line (the tail is buffered). The returned
  // view points into `input` when possible (no copy) or into the internal
  // buffer; it is valid until the next call.
  std::optional<std::string_view> next_line(std::string_view& input);

  // At end of stream: the unterminated last line, if any. (websocketd drops
  // it; we deliver it so no output is lost.) Like next_line, it returns one
  // piece per call (a tail over max_line comes in cut pieces): call it until
  // it returns nullopt.
  std::optional<std::string_view> finish();

  // Bytes held for an incomplete line.
  std::size_t buffered() const noexcept { return partial_.size(); }
  // Memory held by both buffers, for tests and memory accounting: after a
  // line longer than kRetainedBufferCapacity, the next call gives it back.
  std::size_t buffer_capacity() const noexcept { return partial_.capacity() + returned_.capacity(); }

  // A buffer grown past this by one long line is freed once that line has
  // been handed out, so an idle connection does not keep the memory of its
  // largest line (design rule 7). Well above a typical line, so ordinary
  // traffic reuses its buffers without reallocating.
  static constexpr std::size_t kRetainedBufferCapacity = 64 * 1024;
  // True when the last line returned was cut at max_line rather than at "\n".
  bool last_line_was_cut() const noexcept { return last_cut_; }

 private:
  // At the start of each call, when the previous view has expired.
  void release_large_buffers();

  std::size_t max_line_;
  std::string partial_;
  std::string returned_;  // keeps a buffered line alive for the caller
  bool last_cut_ = false;
};

}  // namespace wsbridge::bridge
