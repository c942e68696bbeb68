#include <catch2/catch.hpp>

#include "wsbridge/bridge/tagged_output.h"

using wsbridge::bridge::tag_output_line;

TEST_CASE("lines are wrapped with their stream", "[bridge_tagged_output_test]") {
  CHECK(tag_output_line(false, "hello") == R"({"stream":"stdout","data":"hello"})");
  CHECK(tag_output_line(true, "oops") == R"({"stream":"stderr","data":"oops"})");
  CHECK(tag_output_line(false, "") == R"({"stream":"stdout","data":""})");
}

TEST_CASE("escaping follows Go's encoding/json", "[bridge_tagged_output_test]") {
  CHECK(tag_output_line(false, "a\"b\\c") == R"({"stream":"stdout","data":"a\"b\\c"})");
  CHECK(tag_output_line(false, "\t\r\x01") == R"({"stream":"stdout","data":"\t\r\u0001"})");
  CHECK(tag_output_line(false, "<b>&") == R"({"stream":"stdout","data":"\u003cb\u003e\u0026"})");
  CHECK(tag_output_line(false, "x\xE2\x80\xA8y") == R"({"stream":"stdout","data":"x\u2028y"})");
  CHECK(tag_output_line(false, "h\xC3\xA9") == "{\"stream\":\"stdout\",\"data\":\"h\xC3\xA9\"}");
  CHECK(tag_output_line(false, "bad\xFF") == R"({"stream":"stdout","data":"bad\ufffd"})");
}

TEST_CASE("an output message is the JSON wrapping when tagged, else the line made valid UTF-8",
          "[bridge_tagged_output_test]") {
  std::string scratch;
  CHECK(wsbridge::bridge::output_message_text("plain", false, false, scratch) == "plain");
  CHECK(wsbridge::bridge::output_message_text("bad\xff", false, false, scratch) == "bad\xef\xbf\xbd");
  CHECK(wsbridge::bridge::output_message_text("oops", true, true, scratch) == R"({"stream":"stderr","data":"oops"})");
}
