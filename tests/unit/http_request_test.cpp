// Request header helpers: case-insensitive lookup, joining, token lists.
#include <catch2/catch.hpp>

#include "wsbridge/http/request.h"

using wsbridge::http::iequals;
using wsbridge::http::Request;

namespace {

Request with_headers(std::initializer_list<std::pair<const char*, const char*>> headers) {
  Request request;
  for (const auto& [name, value] : headers) request.headers.push_back({name, value});
  return request;
}

}  // namespace

TEST_CASE("iequals compares ASCII case-insensitively", "[http_request_test]") {
  REQUIRE(iequals("Upgrade", "uPGRADE"));
  REQUIRE(iequals("", ""));
  REQUIRE_FALSE(iequals("Upgrade", "Upgrades"));
  REQUIRE_FALSE(iequals("a-b", "a_b"));
  // Only ASCII letters fold: '@' (0x40) and '`' (0x60) differ by the case bit.
  REQUIRE_FALSE(iequals("@", "`"));
  REQUIRE_FALSE(iequals("[", "{"));
  REQUIRE_FALSE(iequals("\xc3\x89", "\xc3\xa9"));
}

TEST_CASE("find_header returns the first match", "[http_request_test]") {
  const Request r = with_headers({{"Host", "a"}, {"X", "1"}, {"host", "b"}});
  REQUIRE(r.find_header("HOST") != nullptr);
  REQUIRE(*r.find_header("HOST") == "a");
  REQUIRE(*r.find_header("x") == "1");
  REQUIRE(r.find_header("Origin") == nullptr);
  REQUIRE(r.find_header("") == nullptr);
}

TEST_CASE("joined_header joins every value with a comma", "[http_request_test]") {
  const Request r = with_headers({{"Accept", "a"}, {"Other", "z"}, {"accept", "b, c"}, {"ACCEPT", ""}});
  REQUIRE(r.joined_header("Accept") == "a, b, c, ");
  REQUIRE(r.joined_header("Other") == "z");
  REQUIRE(r.joined_header("Missing").empty());
}

TEST_CASE("header_has_token looks through comma lists in every occurrence", "[http_request_test]") {
  const Request r = with_headers({{"Connection", "keep-alive"}, {"connection", " ,Upgrade\t, close"},
                                  {"Upgrade", "h2c, WebSocket"}, {"X", "upgraded, up grade"}});
  REQUIRE(r.header_has_token("Connection", "upgrade"));
  REQUIRE(r.header_has_token("CONNECTION", "keep-alive"));
  REQUIRE(r.header_has_token("Connection", "close"));
  REQUIRE(r.header_has_token("Upgrade", "websocket"));
  REQUIRE(r.header_has_token("Upgrade", "H2C"));
  REQUIRE_FALSE(r.header_has_token("X", "upgrade"));  // substrings are not tokens
  REQUIRE_FALSE(r.header_has_token("X", "up"));
  REQUIRE_FALSE(r.header_has_token("Missing", "upgrade"));
  REQUIRE_FALSE(r.header_has_token("Connection", ""));  // empty list elements never match
}
