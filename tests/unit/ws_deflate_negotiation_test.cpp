// permessage-deflate negotiation (RFC 7692 §7.1): each parameter, its value
// range, the server's own preferences, declined offers and the fallback to
// the next one.
#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/ws/deflate_negotiation.h"

using wsbridge::ws::DeflateNegotiation;
using wsbridge::ws::DeflateSettings;
using wsbridge::ws::negotiate_deflate;

namespace {

// The server's most permissive settings: it adds nothing of its own, so a
// response echoes what the client asked for.
DeflateSettings permissive() {
  DeflateSettings settings;
  settings.enabled = true;
  settings.server_no_context_takeover = false;
  settings.client_no_context_takeover = false;
  return settings;
}

}  // namespace

TEST_CASE("off, or nothing offered: a plain connection", "[ws_deflate_negotiation_test]") {
  DeflateSettings off = permissive();
  off.enabled = false;
  CHECK_FALSE(negotiate_deflate("permessage-deflate", off).accepted);
  CHECK_FALSE(negotiate_deflate("", permissive()).accepted);
  CHECK_FALSE(negotiate_deflate("x-webkit-deflate-frame, deflate-stream", permissive()).accepted);
  const DeflateNegotiation none = negotiate_deflate("", permissive());
  CHECK(none.response.empty());
}

TEST_CASE("a bare offer is accepted with full windows and context takeover", "[ws_deflate_negotiation_test]") {
  const DeflateNegotiation result = negotiate_deflate("permessage-deflate", permissive());
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate");
  CHECK_FALSE(result.parameters.server_no_context_takeover);
  CHECK_FALSE(result.parameters.client_no_context_takeover);
  CHECK(result.parameters.server_max_window_bits == 15);
  CHECK(result.parameters.client_max_window_bits == 15);
}

TEST_CASE("names are matched without regard to case", "[ws_deflate_negotiation_test]") {
  const DeflateNegotiation result =
      negotiate_deflate("PerMessage-Deflate; Server_No_Context_Takeover", permissive());
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate; server_no_context_takeover");
  CHECK(result.parameters.server_no_context_takeover);
}

TEST_CASE("no_context_takeover: asked by the client or added by the server", "[ws_deflate_negotiation_test]") {
  DeflateNegotiation result =
      negotiate_deflate("permessage-deflate; client_no_context_takeover", permissive());
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate; client_no_context_takeover");
  CHECK(result.parameters.client_no_context_takeover);
  CHECK_FALSE(result.parameters.server_no_context_takeover);

  // The defaults add both (§7.1.1.1 and §7.1.1.2 let the server do so).
  DeflateSettings defaults;
  defaults.enabled = true;
  result = negotiate_deflate("permessage-deflate", defaults);
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover");
  CHECK(result.parameters.server_no_context_takeover);
  CHECK(result.parameters.client_no_context_takeover);
}

TEST_CASE("server_max_window_bits: answered with the offered value or less", "[ws_deflate_negotiation_test]") {
  for (int bits = 8; bits <= 15; ++bits) {
    INFO(bits);
    const std::string value = std::to_string(bits);
    DeflateNegotiation result =
        negotiate_deflate("permessage-deflate; server_max_window_bits=" + value, permissive());
    REQUIRE(result.accepted);
    // 8 is accepted too: the compressor then runs with zlib's 9-bit window,
    // whose matches never reach back more than 250 bytes.
    CHECK(result.response == "permessage-deflate; server_max_window_bits=" + value);
    CHECK(result.parameters.server_max_window_bits == bits);
  }
  // A server that prefers a smaller window says so only when asked; unasked
  // it just compresses with less, which any client can follow.
  DeflateSettings small = permissive();
  small.server_max_window_bits = 10;
  DeflateNegotiation result = negotiate_deflate("permessage-deflate; server_max_window_bits=12", small);
  CHECK(result.response == "permessage-deflate; server_max_window_bits=10");
  CHECK(result.parameters.server_max_window_bits == 10);
  result = negotiate_deflate("permessage-deflate", small);
  CHECK(result.response == "permessage-deflate");
  CHECK(result.parameters.server_max_window_bits == 10);
  // A preference below zlib's 9 is raised to it.
  small.server_max_window_bits = 8;
  result = negotiate_deflate("permessage-deflate", small);
  CHECK(result.parameters.server_max_window_bits == 9);
}

TEST_CASE("client_max_window_bits: answered only when offered", "[ws_deflate_negotiation_test]") {
  DeflateSettings small = permissive();
  small.client_max_window_bits = 10;
  // Not offered: the client may use 15 and the server must not limit it.
  DeflateNegotiation result = negotiate_deflate("permessage-deflate", small);
  CHECK(result.response == "permessage-deflate");
  CHECK(result.parameters.client_max_window_bits == 15);
  // Offered bare: the server picks.
  result = negotiate_deflate("permessage-deflate; client_max_window_bits", small);
  CHECK(result.response == "permessage-deflate; client_max_window_bits=10");
  CHECK(result.parameters.client_max_window_bits == 10);
  result = negotiate_deflate("permessage-deflate; client_max_window_bits", permissive());
  CHECK(result.response == "permessage-deflate");
  CHECK(result.parameters.client_max_window_bits == 15);
  // Offered with a value: never answered with more.
  for (int bits = 8; bits <= 15; ++bits) {
    INFO(bits);
    result = negotiate_deflate("permessage-deflate; client_max_window_bits=" + std::to_string(bits), small);
    REQUIRE(result.accepted);
    const int expected = bits < 10 ? bits : 10;
    CHECK(result.response == "permessage-deflate; client_max_window_bits=" + std::to_string(expected));
    CHECK(result.parameters.client_max_window_bits == expected);
  }
  // A preference below 9 is raised: a client on zlib cannot compress with 8.
  small.client_max_window_bits = 8;
  result = negotiate_deflate("permessage-deflate; client_max_window_bits", small);
  CHECK(result.response == "permessage-deflate; client_max_window_bits=9");
}

TEST_CASE("quoted values are read as their tokens", "[ws_deflate_negotiation_test]") {
  const DeflateNegotiation result = negotiate_deflate(
      R"(permessage-deflate; server_max_window_bits="10"; client_max_window_bits="12")", permissive());
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate; server_max_window_bits=10; client_max_window_bits=12");
}

TEST_CASE("a malformed offer is declined, never the handshake", "[ws_deflate_negotiation_test]") {
  const char* declined[] = {
      "permessage-deflate; unknown_param",
      "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
      "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
      "permessage-deflate; server_no_context_takeover=1",
      "permessage-deflate; client_no_context_takeover=\"x\"",
      "permessage-deflate; server_max_window_bits",
      "permessage-deflate; server_max_window_bits=7",
      "permessage-deflate; server_max_window_bits=16",
      "permessage-deflate; server_max_window_bits=010",
      "permessage-deflate; client_max_window_bits=0",
      "permessage-deflate; client_max_window_bits=+9",
      "permessage-deflate; client_max_window_bits=1a",
      "permessage-deflate; client_max_window_bits=\"\"",
      "permessage-deflate server_max_window_bits=10",
  };
  for (const char* offer : declined) {
    INFO(offer);
    const DeflateNegotiation result = negotiate_deflate(offer, permissive());
    CHECK_FALSE(result.accepted);
    CHECK(result.response.empty());
  }
}

TEST_CASE("the first acceptable offer wins, over several header lines", "[ws_deflate_negotiation_test]") {
  // Offers in order of the client's preference (§5): a declined first offer
  // falls back to the next; an acceptable first offer ends the search.
  // Header lines arrive joined with ", " (http::Request::joined_header).
  DeflateNegotiation result = negotiate_deflate(
      "permessage-deflate; server_max_window_bits=10; bogus, "
      "x-other; a=1, permessage-deflate; client_max_window_bits",
      permissive());
  REQUIRE(result.accepted);
  CHECK(result.response == "permessage-deflate");
  CHECK(result.parameters.server_max_window_bits == 15);

  result = negotiate_deflate(
      "permessage-deflate; server_max_window_bits=9, permessage-deflate; server_max_window_bits=11",
      permissive());
  CHECK(result.response == "permessage-deflate; server_max_window_bits=9");

  // A grammar error in one element does not spoil the next.
  result = negotiate_deflate("permessage-deflate; x=\"a,b\", permessage-deflate; client_no_context_takeover",
                             permissive());
  CHECK(result.response == "permessage-deflate; client_no_context_takeover");
}

TEST_CASE("every parameter at once, in the response's fixed order", "[ws_deflate_negotiation_test]") {
  const DeflateNegotiation result = negotiate_deflate(
      "permessage-deflate; client_max_window_bits=11; server_max_window_bits=12; "
      "client_no_context_takeover; server_no_context_takeover",
      permissive());
  REQUIRE(result.accepted);
  CHECK(result.response ==
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover; "
        "server_max_window_bits=12; client_max_window_bits=11");
  CHECK(result.parameters.server_no_context_takeover);
  CHECK(result.parameters.client_no_context_takeover);
  CHECK(result.parameters.server_max_window_bits == 12);
  CHECK(result.parameters.client_max_window_bits == 11);
}
