// Per-client admission: open-connection counts, the token bucket's burst,
// refill and Retry-After, the bounded table, and the keys addresses map to.
#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/bridge/client_key.h"
#include "wsbridge/bridge/client_limits.h"

using wsbridge::bridge::client_key;
using wsbridge::bridge::ClientLimits;
using wsbridge::bridge::ClientLimitSettings;
using Verdict = ClientLimits::Verdict;

namespace {
constexpr std::uint64_t kSecond = 1000000000ULL;

ClientLimitSettings settings(int max_open, std::uint32_t rate, std::size_t capacity = 1024) {
  ClientLimitSettings s;
  s.max_open = max_open;
  s.rate_per_second = rate;
  s.capacity = capacity;
  return s;
}
}  // namespace

TEST_CASE("client_key: IPv4 as is, IPv6 per /64, mapped IPv4 as IPv4, others unlimited", "[bridge_client_limits_test]") {
  CHECK(client_key("192.0.2.7") == "192.0.2.7");
  CHECK(client_key("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64");
  CHECK(client_key("2001:DB8:1:2:ffff::1") == "2001:db8:1:2::/64");  // same /64, other spelling
  CHECK(client_key("2001:db8:1:3::1") == "2001:db8:1:3::/64");
  CHECK(client_key("::1") == "::/64");
  CHECK(client_key("::ffff:192.0.2.7") == "192.0.2.7");
  CHECK(client_key("") == "");
  CHECK(client_key("@") == "");
  CHECK(client_key("192.0.2.7:80") == "");
  CHECK(client_key(std::string(200, '1')) == "");
}

TEST_CASE("max_open: the N+1th open connection is refused until one closes", "[bridge_client_limits_test]") {
  ClientLimits limits(settings(2, 0));
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  CHECK(limits.admit("a", 0).verdict == Verdict::TooManyOpen);
  CHECK(limits.admit("b", 0).verdict == Verdict::Admitted);  // another client is not affected
  CHECK(limits.open_count("a") == 2);
  limits.release("a");
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  CHECK(limits.admit("a", 0).verdict == Verdict::TooManyOpen);
}

TEST_CASE("rate: a burst of N, then one a 1/N second, Retry-After in whole seconds", "[bridge_client_limits_test]") {
  ClientLimits limits(settings(0, 4));
  for (int i = 0; i < 4; ++i) CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  const auto refused = limits.admit("a", 0);
  CHECK(refused.verdict == Verdict::TooFast);
  CHECK(refused.retry_after_seconds == 1);
  CHECK(limits.admit("a", kSecond / 8).verdict == Verdict::TooFast);   // half a token back
  CHECK(limits.admit("a", kSecond / 4).verdict == Verdict::Admitted);  // one token back
  CHECK(limits.admit("a", kSecond / 4).verdict == Verdict::TooFast);
  // Saved-up tokens are capped at the burst.
  for (int i = 0; i < 4; ++i) CHECK(limits.admit("a", 100 * kSecond).verdict == Verdict::Admitted);
  CHECK(limits.admit("a", 100 * kSecond).verdict == Verdict::TooFast);
}

TEST_CASE("rate: a slow rate says how many seconds to wait", "[bridge_client_limits_test]") {
  // 1 a second: right after the one allowed, the next token is 1 s away.
  ClientLimits limits(settings(0, 1));
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  const auto refused = limits.admit("a", kSecond / 10);
  CHECK(refused.verdict == Verdict::TooFast);
  CHECK(refused.retry_after_seconds == 1);
}

TEST_CASE("both limits: a refused connection takes no token and opens nothing", "[bridge_client_limits_test]") {
  ClientLimits limits(settings(1, 2));
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);
  CHECK(limits.admit("a", 0).verdict == Verdict::TooManyOpen);  // no token spent on it
  limits.release("a");
  CHECK(limits.admit("a", 0).verdict == Verdict::Admitted);  // the second token
  limits.release("a");
  CHECK(limits.admit("a", 0).verdict == Verdict::TooFast);
  CHECK(limits.open_count("a") == 0);
}

TEST_CASE("the table is bounded; addresses with open connections are never forgotten", "[bridge_client_limits_test]") {
  ClientLimits limits(settings(1, 1, 4));
  CHECK(limits.admit("held", 0).verdict == Verdict::Admitted);  // stays open
  for (int i = 0; i < 1000; ++i) {
    const std::string key = "flood" + std::to_string(i);
    REQUIRE(limits.admit(key, 0).verdict == Verdict::Admitted);
    limits.release(key);
  }
  CHECK(limits.remembered() == 4);
  CHECK(limits.open_count("held") == 1);
  CHECK(limits.admit("held", 0).verdict == Verdict::TooManyOpen);
}

TEST_CASE("no limits set, or no key: everything is admitted and nothing remembered", "[bridge_client_limits_test]") {
  ClientLimits off(settings(0, 0));
  CHECK_FALSE(off.enabled());
  for (int i = 0; i < 10; ++i) CHECK(off.admit("a", 0).verdict == Verdict::Admitted);
  CHECK(off.remembered() == 0);
  ClientLimits on(settings(1, 0));
  CHECK(on.admit("", 0).verdict == Verdict::Admitted);
  CHECK(on.admit("", 0).verdict == Verdict::Admitted);
  CHECK(on.remembered() == 0);
}
