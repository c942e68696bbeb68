// Subprotocol negotiation: the server's preference order wins, offers span
// several header lines, and the three ways it can end are told apart.
#include <catch2/catch.hpp>

#include "wsbridge/ws/subprotocol.h"

using wsbridge::http::Request;
using wsbridge::ws::choose_subprotocol;
using wsbridge::ws::is_subprotocol_token;
using wsbridge::ws::offered_subprotocols;
using wsbridge::ws::SubprotocolOutcome;

namespace {
Request with_offers(std::initializer_list<const char*> lines) {
  Request request;
  request.headers.push_back({"Host", "example"});
  for (const char* line : lines) request.headers.push_back({"sec-websocket-protocol", line});
  return request;
}
}  // namespace

TEST_CASE("offers are read from every header line, in order", "[ws_subprotocol_test]") {
  // The views point into the request, which must outlive them.
  const Request request = with_offers({"chat, superchat", " ,mqtt ,, v2.json "});
  auto offered = offered_subprotocols(request);
  REQUIRE(offered.size() == 4);
  CHECK(offered[0] == "chat");
  CHECK(offered[1] == "superchat");
  CHECK(offered[2] == "mqtt");
  CHECK(offered[3] == "v2.json");
  const Request none = with_offers({});
  CHECK(offered_subprotocols(none).empty());
}

TEST_CASE("the server's order of preference decides", "[ws_subprotocol_test]") {
  const std::vector<std::string> supported{"v2.json", "v1.json"};
  auto choice = choose_subprotocol(supported, with_offers({"v1.json, v2.json"}));
  CHECK(choice.outcome == SubprotocolOutcome::Chosen);
  CHECK(choice.chosen == "v2.json");
  choice = choose_subprotocol(supported, with_offers({"v1.json", "other"}));
  CHECK(choice.outcome == SubprotocolOutcome::Chosen);
  CHECK(choice.chosen == "v1.json");
}

TEST_CASE("names are compared exactly", "[ws_subprotocol_test]") {
  auto choice = choose_subprotocol({"chat"}, with_offers({"Chat, chat2"}));
  CHECK(choice.outcome == SubprotocolOutcome::NotSupported);
  CHECK(choice.chosen.empty());
}

TEST_CASE("no offer, no list, no match", "[ws_subprotocol_test]") {
  CHECK(choose_subprotocol({"chat"}, with_offers({})).outcome == SubprotocolOutcome::NoneOffered);
  CHECK(choose_subprotocol({"chat"}, with_offers({" , "})).outcome == SubprotocolOutcome::NoneOffered);
  CHECK(choose_subprotocol({}, with_offers({"chat"})).outcome == SubprotocolOutcome::NotNegotiated);
  CHECK(choose_subprotocol({"chat"}, with_offers({"mqtt"})).outcome == SubprotocolOutcome::NotSupported);
}

TEST_CASE("subprotocol names are tokens", "[ws_subprotocol_test]") {
  CHECK(is_subprotocol_token("chat"));
  CHECK(is_subprotocol_token("v2.json+gzip~x"));
  CHECK_FALSE(is_subprotocol_token(""));
  CHECK_FALSE(is_subprotocol_token("a b"));
  CHECK_FALSE(is_subprotocol_token("a,b"));
  CHECK_FALSE(is_subprotocol_token("caf\xc3\xa9"));
  CHECK_FALSE(is_subprotocol_token("x\x7f"));
}
