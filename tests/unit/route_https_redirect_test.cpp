#include <catch2/catch.hpp>

#include "wsbridge/route/https_redirect.h"

using wsbridge::http::Request;
using wsbridge::route::https_redirect_location;

namespace {
Request request_for(const char* target, const char* host) {
  Request r;
  r.method = "GET";
  r.target = target;
  if (host) r.headers.push_back({"Host", host});
  return r;
}
}  // namespace

TEST_CASE("redirects keep the path and query and swap the port", "[route_https_redirect_test]") {
  CHECK(https_redirect_location(request_for("/a/b?x=1", "example.com:8080"), 8443, "127.0.0.1") ==
        "https://example.com:8443/a/b?x=1");
  CHECK(https_redirect_location(request_for("/", "example.com"), 443, "127.0.0.1") == "https://example.com/");
}

TEST_CASE("IPv6 hosts keep their brackets", "[route_https_redirect_test]") {
  CHECK(https_redirect_location(request_for("/x", "[::1]:8080"), 8443, "::1") == "https://[::1]:8443/x");
  CHECK(https_redirect_location(request_for("/x", "[::1]"), 443, "::1") == "https://[::1]/x");
}

TEST_CASE("a missing or hostile Host falls back to the local address", "[route_https_redirect_test]") {
  CHECK(https_redirect_location(request_for("/x", nullptr), 8443, "127.0.0.1") == "https://127.0.0.1:8443/x");
  CHECK(https_redirect_location(request_for("/x", "evil.com\r\nSet-Cookie: a=b"), 8443, "127.0.0.1") ==
        "https://127.0.0.1:8443/x");
  CHECK(https_redirect_location(request_for("/x", "a/b"), 8443, "127.0.0.1") == "https://127.0.0.1:8443/x");
}

TEST_CASE("non-path targets redirect to the root", "[route_https_redirect_test]") {
  CHECK(https_redirect_location(request_for("*", "h"), 8443, "127.0.0.1") == "https://h:8443/");
  CHECK(https_redirect_location(request_for("http://other/x", "h"), 8443, "127.0.0.1") == "https://h:8443/");
}
