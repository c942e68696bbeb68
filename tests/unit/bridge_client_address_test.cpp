#include <catch2/catch.hpp>

#include "wsbridge/bridge/client_address.h"

using wsbridge::bridge::client_address;
using wsbridge::bridge::TrustedProxies;
using wsbridge::http::Request;

namespace {
Request with_headers(std::initializer_list<std::pair<const char*, const char*>> headers) {
  Request r;
  for (const auto& [name, value] : headers) r.headers.push_back({name, value});
  return r;
}
TrustedProxies trusting(const char* list) {
  TrustedProxies t;
  std::string error;
  REQUIRE(t.add(list, error));
  return t;
}
}  // namespace

TEST_CASE("ranges match IPv4, IPv6 and IPv4-mapped addresses", "[bridge_client_address_test]") {
  TrustedProxies t = trusting("10.0.0.0/8, 127.0.0.1,fd00::/8");
  CHECK(t.contains("10.1.2.3"));
  CHECK_FALSE(t.contains("11.0.0.1"));
  CHECK(t.contains("127.0.0.1"));
  CHECK(t.contains("::ffff:127.0.0.1"));
  CHECK_FALSE(t.contains("127.0.0.2"));
  CHECK(t.contains("fd12::1"));
  CHECK_FALSE(t.contains("fe80::1"));
  CHECK_FALSE(t.contains("not-an-ip"));
  TrustedProxies odd = trusting("192.168.0.0/23");
  CHECK(odd.contains("192.168.1.200"));
  CHECK_FALSE(odd.contains("192.168.2.1"));
}

TEST_CASE("bad ranges are refused with a message", "[bridge_client_address_test]") {
  for (const char* bad : {"10.0.0.0/33", "::/129", "example.com", "10.0.0.0/", "1.2.3.4/x"}) {
    TrustedProxies t;
    std::string error;
    INFO(bad);
    CHECK_FALSE(t.add(bad, error));
    CHECK_FALSE(error.empty());
  }
}

TEST_CASE("headers count only from a trusted peer", "[bridge_client_address_test]") {
  TrustedProxies t = trusting("127.0.0.1");
  Request r = with_headers({{"X-Forwarded-For", "203.0.113.9"}});
  CHECK(client_address("127.0.0.1", r, t) == "203.0.113.9");
  CHECK(client_address("198.51.100.1", r, t) == "198.51.100.1");  // forged by a client
  CHECK(client_address("127.0.0.1", r, TrustedProxies{}) == "127.0.0.1");
}

TEST_CASE("X-Forwarded-For is read from the right, skipping our proxies", "[bridge_client_address_test]") {
  TrustedProxies t = trusting("127.0.0.1,10.0.0.0/8");
  // The client forged "1.1.1.1"; our proxies appended the real client and themselves.
  Request r = with_headers({{"X-Forwarded-For", "1.1.1.1, 203.0.113.9, 10.0.0.5"}});
  CHECK(client_address("127.0.0.1", r, t) == "203.0.113.9");
  Request repeated = with_headers({{"X-Forwarded-For", "203.0.113.9"}, {"X-Forwarded-For", "10.0.0.5"}});
  CHECK(client_address("127.0.0.1", repeated, t) == "203.0.113.9");
  Request all_ours = with_headers({{"X-Forwarded-For", "10.0.0.5, 10.0.0.6"}});
  CHECK(client_address("127.0.0.1", all_ours, t) == "127.0.0.1");
  Request garbage = with_headers({{"X-Forwarded-For", "203.0.113.9, <script>"}});
  CHECK(client_address("127.0.0.1", garbage, t) == "127.0.0.1");
  Request v6 = with_headers({{"X-Forwarded-For", "[2001:db8::1]"}});
  CHECK(client_address("127.0.0.1", v6, t) == "2001:db8::1");
}

TEST_CASE("X-Real-IP is used when X-Forwarded-For is absent", "[bridge_client_address_test]") {
  TrustedProxies t = trusting("127.0.0.1");
  CHECK(client_address("127.0.0.1", with_headers({{"X-Real-IP", " 203.0.113.9 "}}), t) == "203.0.113.9");
  CHECK(client_address("127.0.0.1", with_headers({{"X-Real-IP", "nope"}}), t) == "127.0.0.1");
}
