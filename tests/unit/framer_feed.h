// Feeds a message framer (NulSplitter, LengthPrefixSplitter) its input in
// pieces of `step` bytes, as pipe reads would arrive, and collects every
// message it returns, so one test can check all splits of the same bytes.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace framer_feed {

template <typename Framer>
std::vector<std::string> feed_in_pieces(Framer& framer, std::string_view bytes, std::size_t step) {
  std::vector<std::string> messages;
  for (std::size_t at = 0; at < bytes.size(); at += step) {
    std::string_view piece = bytes.substr(at, step);
    while (auto message = framer.next_message(piece)) messages.emplace_back(*message);
  }
  return messages;
}

}  // namespace framer_feed
