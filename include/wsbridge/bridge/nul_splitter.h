// --framing=nul: a program's stdout is a sequence of messages, each ended
// by a NUL byte (the NUL is not part of the message). Unlike lines, any
// other byte, newlines included, belongs to the message, so a program can
// send multi-line text or binary data as one message. Bounded: a message
// longer than max_message is a FramingError, not a reason to grow memory.
// Sans-IO, like LineSplitter.
#pragma once
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "wsbridge/bridge/framing_error.h"

namespace wsbridge::bridge {

class NulSplitter {
 public:
  explicit NulSplitter(std::size_t max_message) : max_message_(max_message) {}

  // The next complete message from what was buffered plus `input`;
  // advances `input` past the bytes used. nullopt when `input` is used up
  // (the tail is buffered) or on an error (error() says which; nothing more
  // is returned after one). The view is valid until the next call.
  std::optional<std::string_view> next_message(std::string_view& input);

  // At end of output: None when nothing was left unfinished.
  FramingError finish() noexcept;

  FramingError error() const noexcept { return error_; }
  std::size_t buffered() const noexcept { return partial_.size(); }

 private:
  std::size_t max_message_;
  std::string partial_;
  std::string returned_;
  FramingError error_ = FramingError::None;
};

}  // namespace wsbridge::bridge
