#include "wsbridge/bridge/nul_splitter.h"

#include "bridge/retained_capacity.h"

namespace wsbridge::bridge {

std::optional<std::string_view> NulSplitter::next_message(std::string_view& input) {
  release_if_large(returned_);
  if (error_ != FramingError::None) return std::nullopt;
  const std::size_t end = input.find('\0');
  const std::size_t available = partial_.size() + (end == std::string_view::npos ? input.size() : end);
  if (available > max_message_) {
    error_ = FramingError::MessageTooLong;
    input = {};
    release_if_large(partial_);
    partial_.clear();
    return std::nullopt;
  }
  if (end == std::string_view::npos) {
    partial_.append(input);
    input = {};
    return std::nullopt;
  }
  if (partial_.empty()) {
    // The whole message is in this read: no copy.
    std::string_view message = input.substr(0, end);
    input.remove_prefix(end + 1);
    return message;
  }
  partial_.append(input.substr(0, end));
  input.remove_prefix(end + 1);
  returned_.swap(partial_);
  partial_.clear();
  release_if_large(partial_);
  return std::string_view(returned_);
}

FramingError NulSplitter::finish() noexcept {
  if (error_ == FramingError::None && !partial_.empty()) error_ = FramingError::TruncatedAtEnd;
  return error_;
}

}  // namespace wsbridge::bridge
