#include "wsbridge/bridge/length_prefix_splitter.h"

#include <algorithm>

#include "bridge/retained_capacity.h"

namespace wsbridge::bridge {

std::optional<std::string_view> LengthPrefixSplitter::next_message(std::string_view& input) {
  release_if_large(returned_);
  if (error_ != FramingError::None) return std::nullopt;
  while (prefix_filled_ < kPrefixSize) {
    if (input.empty()) return std::nullopt;
    prefix_[prefix_filled_++] = static_cast<unsigned char>(input.front());
    input.remove_prefix(1);
    if (prefix_filled_ == kPrefixSize) {
      length_ = (std::uint32_t{prefix_[0]} << 24) | (std::uint32_t{prefix_[1]} << 16) |
                (std::uint32_t{prefix_[2]} << 8) | std::uint32_t{prefix_[3]};
      // Refused on the declared length, before any payload is held.
      if (length_ > max_message_) {
        error_ = FramingError::MessageTooLong;
        input = {};
        return std::nullopt;
      }
    }
  }
  const std::size_t missing = length_ - payload_.size();
  if (payload_.empty() && input.size() >= length_) {
    // The whole payload is in this read: no copy.
    std::string_view message = input.substr(0, length_);
    input.remove_prefix(length_);
    prefix_filled_ = 0;
    return message;
  }
  const std::size_t take = std::min(missing, input.size());
  payload_.append(input.substr(0, take));
  input.remove_prefix(take);
  if (payload_.size() < length_) return std::nullopt;
  returned_.swap(payload_);
  release_if_large(payload_);
  prefix_filled_ = 0;
  return std::string_view(returned_);
}

FramingError LengthPrefixSplitter::finish() noexcept {
  if (error_ == FramingError::None && (prefix_filled_ != 0 || !payload_.empty())) {
    error_ = FramingError::TruncatedAtEnd;
  }
  return error_;
}

bool append_length_prefixed(std::string& out, std::string_view message) {
  if (message.size() > UINT32_MAX) return false;
  const auto length = static_cast<std::uint32_t>(message.size());
  const char prefix[] = {static_cast<char>(length >> 24), static_cast<char>(length >> 16),
                         static_cast<char>(length >> 8), static_cast<char>(length)};
  out.append(prefix, sizeof prefix);
  out.append(message);
  return true;
}

}  // namespace wsbridge::bridge
