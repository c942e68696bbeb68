// --framing=length: 4-byte big-endian lengths both ways, any payload bytes,
// lengths over the limit refused before their payload is held.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "framer_feed.h"
#include "wsbridge/bridge/length_prefix_splitter.h"

using wsbridge::bridge::append_length_prefixed;
using wsbridge::bridge::FramingError;
using wsbridge::bridge::LengthPrefixSplitter;

using framer_feed::feed_in_pieces;

TEST_CASE("the stdin encoding and the stdout decoding agree", "[bridge_length_prefix_splitter_test]") {
  const std::vector<std::string> sent{"", std::string("\0\n\xff", 3), std::string(70000, 'x'), "end"};
  std::string wire;
  for (const auto& message : sent) REQUIRE(append_length_prefixed(wire, message));
  CHECK(wire.substr(0, 4) == std::string("\0\0\0\0", 4));
  CHECK(wire.substr(4, 4) == std::string("\0\0\0\x03", 4));
  for (std::size_t step : {std::size_t{1}, std::size_t{3}, std::size_t{4096}, wire.size()}) {
    LengthPrefixSplitter splitter(1 << 20);
    CHECK(feed_in_pieces(splitter, wire, step) == sent);
    CHECK(splitter.finish() == FramingError::None);
  }
}

TEST_CASE("the end of output inside a prefix or a payload is an error", "[bridge_length_prefix_splitter_test]") {
  std::string wire;
  REQUIRE(append_length_prefixed(wire, "abc"));
  LengthPrefixSplitter in_payload(100);
  CHECK(feed_in_pieces(in_payload, wire.substr(0, 6), 2).empty());
  CHECK(in_payload.finish() == FramingError::TruncatedAtEnd);
  LengthPrefixSplitter in_prefix(100);
  CHECK(feed_in_pieces(in_prefix, wire.substr(0, 2), 1).empty());
  CHECK(in_prefix.finish() == FramingError::TruncatedAtEnd);
}

TEST_CASE("a declared length over the limit is refused at once", "[bridge_length_prefix_splitter_test]") {
  LengthPrefixSplitter splitter(1000);
  const std::string wire = std::string("\x7f\xff\xff\xff", 4) + "payload that never comes";
  CHECK(feed_in_pieces(splitter, wire, 5).empty());
  CHECK(splitter.error() == FramingError::MessageTooLong);
  CHECK(splitter.finish() == FramingError::MessageTooLong);
}
