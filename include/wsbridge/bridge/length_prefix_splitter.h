// --framing=length: a program's stdout is a sequence of messages, each a
// 4-byte big-endian length followed by that many bytes (binary messages).
// A declared length over max_message is refused before any of its payload
// is buffered. Sans-IO, like LineSplitter.
#pragma once
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "wsbridge/bridge/framing_error.h"

namespace wsbridge::bridge {

class LengthPrefixSplitter {
 public:
  static constexpr std::size_t kPrefixSize = 4;

  explicit LengthPrefixSplitter(std::size_t max_message) : max_message_(max_message) {}

  // As NulSplitter::next_message.
  std::optional<std::string_view> next_message(std::string_view& input);

  // At end of output: None when it ended between messages.
  FramingError finish() noexcept;

  FramingError error() const noexcept { return error_; }

 private:
  std::size_t max_message_;
  std::array<unsigned char, kPrefixSize> prefix_{};
  std::size_t prefix_filled_ = 0;
  std::uint32_t length_ = 0;  // of the message being read, once the prefix is whole
  std::string payload_;
  std::string returned_;
  FramingError error_ = FramingError::None;
};

// What a program reads on stdin in the same framing: the message with its
// 4-byte big-endian length before it, appended to `out`. False (nothing
// appended) for a message of 4 GiB or more, which no prefix can describe.
[[nodiscard]] bool append_length_prefixed(std::string& out, std::string_view message);

}  // namespace wsbridge::bridge
