// --framing=nul output: messages end at NUL, may hold newlines, are bounded,
// and a message cut off by the end of output is reported, not delivered.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "framer_feed.h"
#include "wsbridge/bridge/nul_splitter.h"

using wsbridge::bridge::FramingError;
using wsbridge::bridge::NulSplitter;

using framer_feed::feed_in_pieces;

TEST_CASE("messages end at NUL and keep their newlines, in any split", "[bridge_nul_splitter_test]") {
  const std::string output = std::string("one\ntwo", 7) + '\0' + std::string() + '\0' + "three\r\n" + '\0';
  for (std::size_t step : {std::size_t{1}, std::size_t{2}, std::size_t{5}, output.size()}) {
    NulSplitter splitter(1024);
    auto messages = feed_in_pieces(splitter, output, step);
    REQUIRE(messages.size() == 3);
    CHECK(messages[0] == "one\ntwo");
    CHECK(messages[1].empty());
    CHECK(messages[2] == "three\r\n");
    CHECK(splitter.finish() == FramingError::None);
  }
}

TEST_CASE("a message cut off by the end of output is an error", "[bridge_nul_splitter_test]") {
  NulSplitter splitter(1024);
  auto messages = feed_in_pieces(splitter, std::string("whole") + '\0' + "half", 3);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == "whole");
  CHECK(splitter.finish() == FramingError::TruncatedAtEnd);
}

TEST_CASE("a message over the limit stops the splitter without growing", "[bridge_nul_splitter_test]") {
  NulSplitter splitter(8);
  auto messages = feed_in_pieces(splitter, std::string("12345678") + '\0' + "123456789" + '\0' + "after" + '\0', 4);
  REQUIRE(messages.size() == 1);
  CHECK(messages[0] == "12345678");
  CHECK(splitter.error() == FramingError::MessageTooLong);
  CHECK(splitter.buffered() == 0);
  CHECK(splitter.finish() == FramingError::MessageTooLong);
}
