// The Sec-WebSocket-Extensions grammar (RFC 6455 §9.1): names, parameters,
// quoted values, whitespace, and one bad element not spoiling the others.
#include <catch2/catch.hpp>

#include "wsbridge/ws/extension_offer.h"

using wsbridge::ws::ExtensionOffer;
using wsbridge::ws::parse_extension_offers;

TEST_CASE("offers and their parameters are read in order", "[ws_extension_offer_test]") {
  const auto offers = parse_extension_offers(
      "permessage-deflate; client_max_window_bits; server_max_window_bits=10, x-webkit-deflate-frame");
  REQUIRE(offers.size() == 2);
  CHECK(offers[0].well_formed);
  CHECK(offers[0].name == "permessage-deflate");
  REQUIRE(offers[0].parameters.size() == 2);
  CHECK(offers[0].parameters[0].name == "client_max_window_bits");
  CHECK_FALSE(offers[0].parameters[0].has_value);
  CHECK(offers[0].parameters[1].name == "server_max_window_bits");
  CHECK(offers[0].parameters[1].has_value);
  CHECK(offers[0].parameters[1].value == "10");
  CHECK(offers[1].name == "x-webkit-deflate-frame");
  CHECK(offers[1].parameters.empty());
}

TEST_CASE("whitespace around separators and empty elements are allowed", "[ws_extension_offer_test]") {
  const auto offers = parse_extension_offers(" ,  a ;b = 1\t;\tc ,, d,");
  REQUIRE(offers.size() == 2);
  CHECK(offers[0].well_formed);
  CHECK(offers[0].name == "a");
  REQUIRE(offers[0].parameters.size() == 2);
  CHECK(offers[0].parameters[0].value == "1");
  CHECK(offers[0].parameters[1].name == "c");
  CHECK(offers[1].name == "d");
  CHECK(parse_extension_offers("").empty());
  CHECK(parse_extension_offers(" \t, ,").empty());
}

TEST_CASE("quoted values are unquoted and must still be tokens", "[ws_extension_offer_test]") {
  auto offers = parse_extension_offers(R"(a; b="12"; c="x\yz")");
  REQUIRE(offers.size() == 1);
  CHECK(offers[0].well_formed);
  REQUIRE(offers[0].parameters.size() == 2);
  CHECK(offers[0].parameters[0].value == "12");
  CHECK(offers[0].parameters[1].value == "xyz");  // a quoted-pair stands for its character

  // A comma inside quotes does not split, and "1,2" is no token: this
  // element is malformed, and the next one is still read.
  offers = parse_extension_offers(R"(a; b="1,2", c)");
  REQUIRE(offers.size() == 2);
  CHECK_FALSE(offers[0].well_formed);
  CHECK(offers[1].well_formed);
  CHECK(offers[1].name == "c");
}

TEST_CASE("a malformed element is marked and skipped to the next comma", "[ws_extension_offer_test]") {
  const char* malformed[] = {
      "a b",          // two tokens
      "a; =1",        // a parameter without a name
      "a; b=",        // "=" with no value
      "a;; b",        // an empty parameter
      "a; b=\"\"",    // an empty quoted value is no token
      "; b",          // no extension name
      "a; b=1 2",     // junk after a value
      "a; b=(1)",     // separators are not token characters
  };
  for (const char* header : malformed) {
    INFO(header);
    const auto offers = parse_extension_offers(std::string(header) + ", ok; p=\"v\"");
    REQUIRE(offers.size() == 2);
    CHECK_FALSE(offers[0].well_formed);
    CHECK(offers[1].well_formed);
    CHECK(offers[1].name == "ok");
    REQUIRE(offers[1].parameters.size() == 1);
    CHECK(offers[1].parameters[0].value == "v");
  }
}

TEST_CASE("any byte sequence parses without reading past the header", "[ws_extension_offer_test]") {
  // Ends that stop inside every construct: an escape, a quote, an "=". An
  // unterminated quote runs to the end, taking any later commas with it.
  const char* endings[] = {"a; b=\"x\\", "a; b=\"", "a; b=\"1, c", "a; b=", "a;", "a; b=\"x\" \"", "\"", "\\"};
  for (const char* header : endings) {
    INFO(header);
    const auto offers = parse_extension_offers(header);
    REQUIRE(offers.size() == 1);
    CHECK_FALSE(offers[0].well_formed);
  }
}
