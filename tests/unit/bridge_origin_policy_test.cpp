// Origin checks. The expectations marked [V] were observed on Debian's
// websocketd 0.4.1 on loopback with
//   --origin='http://a.com,https://b.com:8443,c.com:80,d.com,[::1],HTTP://E.com,http://f.com/path,g.com:'
// and with --sameorigin (Host 127.0.0.1:18433).
#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/bridge/origin_policy.h"

using wsbridge::bridge::check_origin;
using wsbridge::bridge::describe;
using wsbridge::bridge::make_origin_policy;
using wsbridge::bridge::OriginPolicy;
using wsbridge::bridge::OriginVerdict;

namespace {

constexpr const char* kNoOrigin = "<none>";

OriginVerdict check(const OriginPolicy& policy, const std::string& origin, const std::string& host = "127.0.0.1:18433",
                    bool tls = false) {
  if (origin == kNoOrigin) return check_origin(policy, nullptr, host, tls);
  return check_origin(policy, &origin, host, tls);
}

struct Case {
  const char* origin;
  bool allowed;
};

}  // namespace

TEST_CASE("make_origin_policy splits without trimming", "[bridge_origin_policy_test]") {
  const OriginPolicy none = make_origin_policy("", false);
  REQUIRE(none.allowed.empty());
  REQUIRE_FALSE(none.restricts());
  REQUIRE(make_origin_policy("", true).restricts());
  const OriginPolicy list = make_origin_policy("a.com, b.com,,c.com,", false);
  REQUIRE(list.allowed == std::vector<std::string>{"a.com", " b.com", "", "c.com", ""});
  REQUIRE(list.restricts());
}

TEST_CASE("without flags every origin is allowed", "[bridge_origin_policy_test]") {
  const OriginPolicy open = make_origin_policy("", false);
  for (const char* origin : {kNoOrigin, "", "null", "http://evil.example", "file://", "https://x:1"}) {
    CAPTURE(origin);
    REQUIRE(check(open, origin) == OriginVerdict::Allowed);
  }
}

TEST_CASE("--origin list matching as websocketd 0.4.1", "[bridge_origin_policy_test]") {
  const OriginPolicy policy = make_origin_policy(
      "http://a.com,https://b.com:8443,c.com:80,d.com,[::1],HTTP://E.com,http://f.com/path,g.com:", false);
  const Case cases[] = {
      {kNoOrigin, false},             // [V] any restriction refuses clients without Origin
      {"", false},
      {"null", false},                // [V] with a list, "null" does not parse
      {"http://a.com", true},         // [V]
      {"http://a.com:9", true},       // [V] no port in the entry: any port
      {"https://a.com", false},       // [V] the entry's scheme must match
      {"http://A.com", false},        // [V] host names are case-sensitive
      {"http://u@a.com", true},       // [V] userinfo is not part of the host
      {"http://a.com/x?y", true},     // [V] path and query are ignored
      {"https://b.com:8443", true},   // [V]
      {"https://b.com", false},       // [V] explicit port: exact match (443 here)
      {"http://b.com:8443", false},   // [V]
      {"http://c.com", true},         // [V] ":80" written out: exact port 80
      {"http://c.com:80", true},      // [V]
      {"http://c.com:81", false},     // [V]
      {"https://c.com", false},       // [V] https defaults to 443
      {"ws://d.com:5", true},         // [V] no scheme in the entry: any scheme
      {"http://[::1]", true},         // [V]
      {"http://e.com", false},        // [V] the scheme is lower-cased, the host is not
      {"HTTP://e.com", false},        // [V]
      {"http://E.com", true},         // [V]
      {"http://f.com", false},        // [V] an entry with a path never matches
      {"http://g.com", false},        // [V] "g.com:" means the empty port
      {"http://g.com:", true},        // [V]
      {"http://a.com:abc", false},    // invalid port: does not parse
      {"http://[::1", false},
      {"garbage", false},
      {"http://a.com\x01", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.origin);
    const OriginVerdict verdict = check(policy, c.origin);
    REQUIRE((verdict == OriginVerdict::Allowed) == c.allowed);
    if (!c.allowed) REQUIRE(verdict == OriginVerdict::NotListed);
  }
}

TEST_CASE("a bracketed IPv6 entry matches any port (a deliberate fix)", "[bridge_origin_policy_test]") {
  // websocketd 0.4.1 compares "[::1]" with "::1" here and refuses [V].
  const OriginPolicy policy = make_origin_policy("[::1]", false);
  REQUIRE(check(policy, "http://[::1]:8080") == OriginVerdict::Allowed);
  REQUIRE(check(policy, "http://[::2]:8080") == OriginVerdict::NotListed);
  REQUIRE(check(make_origin_policy("[::1]:8080", false), "http://[::1]:8080") == OriginVerdict::Allowed);
  REQUIRE(check(make_origin_policy("[::1]:8080", false), "http://[::1]:8081") == OriginVerdict::NotListed);
}

TEST_CASE("short and odd entries match nothing instead of crashing", "[bridge_origin_policy_test]") {
  // websocketd slices allowed[len-3:] and panics on these.
  for (const char* flag : {"a", "ab", ",", "http://a", "http://"}) {
    CAPTURE(flag);
    const OriginPolicy policy = make_origin_policy(flag, false);
    for (const char* origin : {"http://a", "http://ab", "http://a:80", kNoOrigin, "null"}) {
      CAPTURE(origin);
      REQUIRE(check(policy, origin) == OriginVerdict::NotListed);
    }
  }
  // A short entry with a port is fine in websocketd too (no slicing then).
  REQUIRE(check(make_origin_policy("a:1", false), "http://a:1") == OriginVerdict::Allowed);
  // Later entries are still tried after a bad one.
  REQUIRE(check(make_origin_policy("x,,http://[bad,  spaced.com,ok.com", false), "http://ok.com:1") ==
          OriginVerdict::Allowed);
  REQUIRE(check(make_origin_policy("a.com, b.com", false), "http://b.com") == OriginVerdict::NotListed);
}

TEST_CASE("--sameorigin compares host and port with the Host header", "[bridge_origin_policy_test]") {
  const OriginPolicy policy = make_origin_policy("", true);
  const Case cases[] = {
      {kNoOrigin, false},                   // [V]
      {"null", false},                      // [V] "file:" has no host
      {"http://127.0.0.1:18433", true},     // [V]
      {"http://127.0.0.1", false},          // [V] default port 80 ≠ 18433
      {"https://127.0.0.1:18433", true},    // [V] the scheme only matters through its default port
      {"http://localhost:18433", false},    // [V] names are compared, not addresses
      {"http://127.0.0.1:18433/p", true},   // [V]
      {"garbage", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.origin);
    const OriginVerdict verdict = check(policy, c.origin);
    REQUIRE((verdict == OriginVerdict::Allowed) == c.allowed);
    if (!c.allowed) REQUIRE(verdict == OriginVerdict::SameOriginMismatch);
  }
  SECTION("default ports follow the request's and the origin's schemes") {
    REQUIRE(check(policy, "http://example.com", "example.com") == OriginVerdict::Allowed);
    REQUIRE(check(policy, "https://example.com", "example.com", true) == OriginVerdict::Allowed);
    REQUIRE(check(policy, "http://example.com", "example.com", true) == OriginVerdict::SameOriginMismatch);
    REQUIRE(check(policy, "https://example.com", "example.com:443") == OriginVerdict::Allowed);
    REQUIRE(check(policy, "http://Example.com", "example.com") == OriginVerdict::SameOriginMismatch);
    REQUIRE(check(policy, "http://[::1]:8080", "[::1]:8080") == OriginVerdict::Allowed);
    REQUIRE(check(policy, "http://[::1]", "[::1]") == OriginVerdict::Allowed);
  }
  SECTION("an unparseable Host refuses") {
    REQUIRE(check(policy, "http://a:1", "a:b:1") == OriginVerdict::SameOriginMismatch);
  }
}

TEST_CASE("both flags must pass", "[bridge_origin_policy_test]") {
  const OriginPolicy policy = make_origin_policy("example.com", true);
  REQUIRE(check(policy, "http://example.com:8080", "example.com:8080") == OriginVerdict::Allowed);
  REQUIRE(check(policy, "http://example.com:8080", "other.com:8080") == OriginVerdict::SameOriginMismatch);
  REQUIRE(check(policy, "http://other.com:8080", "other.com:8080") == OriginVerdict::NotListed);
  REQUIRE(check(policy, "null", "example.com") == OriginVerdict::NotListed);
}

TEST_CASE("verdicts have websocketd's log text", "[bridge_origin_policy_test]") {
  REQUIRE(std::string(describe(OriginVerdict::NotListed)) == "Origin is not listed in allowed list");
  REQUIRE(std::string(describe(OriginVerdict::SameOriginMismatch)) == "Same origin policy mismatch");
  REQUIRE(std::string(describe(OriginVerdict::Allowed)) == "Origin allowed");
}
