// Opening handshake: each §4.2.1 check, their order, status codes and the
// Sec-WebSocket-Accept computation.
#include <catch2/catch.hpp>

#include <cctype>
#include <cstring>
#include <set>
#include <string>

#include "wsbridge/ws/handshake.h"

using namespace wsbridge;
using ws::HandshakeError;

namespace {

http::Request valid_request() {
  http::Request r;
  r.method = "GET";
  r.http_major = 1;
  r.http_minor = 1;
  r.target = "/chat";
  r.path = "/chat";
  r.headers = {
      {"Host", "server.example.com"},
      {"Upgrade", "websocket"},
      {"Connection", "Upgrade"},
      {"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="},
      {"Origin", "http://example.com"},
      {"Sec-WebSocket-Version", "13"},
  };
  return r;
}

void remove_header(http::Request& r, const std::string& name) {
  for (auto it = r.headers.begin(); it != r.headers.end();) {
    it = http::iequals(it->name, name) ? r.headers.erase(it) : it + 1;
  }
}

void set_header(http::Request& r, const std::string& name, const std::string& value) {
  remove_header(r, name);
  r.headers.push_back({name, value});
}

HandshakeError check_with(const std::string& name, const std::string& value) {
  http::Request r = valid_request();
  set_header(r, name, value);
  return ws::check_handshake(r);
}

}  // namespace

TEST_CASE("handshake: RFC 6455 §1.3 accept key example", "[ws_handshake_test]") {
  CHECK(ws::compute_accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
  CHECK(ws::compute_accept_key("x3JJHMbDL1EzLkh9GBhXDw==") == "HSmrc0sMlYUkAGmm5OPpG2HaGWk=");
  CHECK(ws::compute_accept_key("").size() == 28);
}

TEST_CASE("handshake: a valid request is accepted", "[ws_handshake_test]") {
  CHECK(ws::check_handshake(valid_request()) == HandshakeError::None);
  CHECK(ws::is_websocket_upgrade(valid_request()));
  CHECK(ws::http_status_for(HandshakeError::None) == 101);
}

TEST_CASE("handshake: header names and tokens are case-insensitive, in lists", "[ws_handshake_test]") {
  http::Request r = valid_request();
  for (auto& h : r.headers) {
    std::string lower = h.name;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    h.name = lower;
  }
  CHECK(ws::check_handshake(r) == HandshakeError::None);
  CHECK(check_with("Upgrade", "WebSocket") == HandshakeError::None);
  CHECK(check_with("Connection", "keep-alive, Upgrade") == HandshakeError::None);
  CHECK(check_with("Connection", "UPGRADE") == HandshakeError::None);
  CHECK(check_with("Upgrade", "h2c, websocket") == HandshakeError::None);
  // HTTP/2-style versions above 1.1 are "1.1 or higher".
  http::Request r2 = valid_request();
  r2.http_major = 2;
  r2.http_minor = 0;
  CHECK(ws::check_handshake(r2) == HandshakeError::None);
  r2.http_major = 1;
  r2.http_minor = 2;
  CHECK(ws::check_handshake(r2) == HandshakeError::None);
}

TEST_CASE("handshake: method must be GET", "[ws_handshake_test]") {
  for (const char* m : {"POST", "HEAD", "get", "PUT", ""}) {
    http::Request r = valid_request();
    r.method = m;
    INFO(m);
    CHECK(ws::check_handshake(r) == HandshakeError::MethodNotGet);
  }
  CHECK(ws::http_status_for(HandshakeError::MethodNotGet) == 405);
}

TEST_CASE("handshake: HTTP/1.1 or later", "[ws_handshake_test]") {
  http::Request r = valid_request();
  r.http_minor = 0;
  CHECK(ws::check_handshake(r) == HandshakeError::HttpVersionTooOld);
  r.http_major = 0;
  r.http_minor = 9;
  CHECK(ws::check_handshake(r) == HandshakeError::HttpVersionTooOld);
  CHECK(ws::http_status_for(HandshakeError::HttpVersionTooOld) == 400);
}

TEST_CASE("handshake: Host is required", "[ws_handshake_test]") {
  http::Request r = valid_request();
  remove_header(r, "Host");
  CHECK(ws::check_handshake(r) == HandshakeError::MissingHost);
  CHECK(ws::http_status_for(HandshakeError::MissingHost) == 400);
  // Present but empty is allowed (RFC 9112 §3.2; Go's net/http agrees).
  CHECK(check_with("Host", "") == HandshakeError::None);
}

TEST_CASE("handshake: Upgrade and Connection", "[ws_handshake_test]") {
  CHECK(check_with("Upgrade", "h2c") == HandshakeError::NotAnUpgrade);
  CHECK(check_with("Upgrade", "websocket2") == HandshakeError::NotAnUpgrade);
  CHECK(check_with("Upgrade", "") == HandshakeError::NotAnUpgrade);
  CHECK(check_with("Connection", "keep-alive") == HandshakeError::NotAnUpgrade);
  CHECK(check_with("Connection", "upgraded") == HandshakeError::NotAnUpgrade);
  http::Request r = valid_request();
  remove_header(r, "Upgrade");
  CHECK(ws::check_handshake(r) == HandshakeError::NotAnUpgrade);
  CHECK_FALSE(ws::is_websocket_upgrade(r));
  r = valid_request();
  remove_header(r, "Connection");
  CHECK(ws::check_handshake(r) == HandshakeError::NotAnUpgrade);
  CHECK_FALSE(ws::is_websocket_upgrade(r));
  CHECK(ws::http_status_for(HandshakeError::NotAnUpgrade) == 400);
}

TEST_CASE("handshake: Sec-WebSocket-Key must be base64 of 16 bytes", "[ws_handshake_test]") {
  CHECK(check_with("Sec-WebSocket-Key", "AAAAAAAAAAAAAAAAAAAAAA==") == HandshakeError::None);
  CHECK(check_with("Sec-WebSocket-Key", "/+/+/+/+/+/+/+/+/+/+/w==") == HandshakeError::None);
  CHECK(check_with("Sec-WebSocket-Key", "x3JJHMbDL1EzLkh9GBhXDw==") == HandshakeError::None);
  const char* bad[] = {
      "",
      "dGhlIHNhbXBsZSBub25jZQ=",     // 23 chars
      "dGhlIHNhbXBsZSBub25jZQ===",   // 25 chars
      "dGhlIHNhbXBsZSBub25jZQ",      // no padding
      "dGhlIHNhbXBsZSBub25jZQAA",    // 24 chars, no padding: 18 bytes
      "dGhlIHNhbXBsZSBub25jZQA=",    // 17 bytes
      "dGhlIHNhbXBsZSBub25j*Q==",    // not in the alphabet
      "dGhlIHNhbXBsZSBub25jZ-==",    // base64url is not base64
      "dGhlIHNh=XBsZSBub25jZQ==",    // padding in the middle
      "dGhlIHNhbXBsZSBub25jZQ=A",    // broken padding
      "dGhlIHNhbXBs ZSBub25jZQ==",   // space inside
      "c2hvcnQ=",                    // "short"
      "dGhlIHNhbXBsZSBub25jZSBsb25nZXI=",  // more than 16 bytes
  };
  for (const char* key : bad) {
    INFO("key '" << key << "'");
    CHECK(check_with("Sec-WebSocket-Key", key) == HandshakeError::BadKey);
  }
  http::Request r = valid_request();
  remove_header(r, "Sec-WebSocket-Key");
  CHECK(ws::check_handshake(r) == HandshakeError::BadKey);
  CHECK(ws::http_status_for(HandshakeError::BadKey) == 400);
}

TEST_CASE("handshake: Sec-WebSocket-Version must be exactly 13", "[ws_handshake_test]") {
  for (const char* v : {"8", "7", "12", "14", "013", "13, 8", "", "thirteen"}) {
    INFO("version '" << v << "'");
    CHECK(check_with("Sec-WebSocket-Version", v) == HandshakeError::UnsupportedVersion);
  }
  http::Request r = valid_request();
  remove_header(r, "Sec-WebSocket-Version");
  CHECK(ws::check_handshake(r) == HandshakeError::UnsupportedVersion);
  CHECK(ws::http_status_for(HandshakeError::UnsupportedVersion) == 426);
}

TEST_CASE("handshake: checks run in RFC 6455 §4.2.1 order", "[ws_handshake_test]") {
  http::Request r = valid_request();
  r.method = "POST";
  r.http_minor = 0;
  remove_header(r, "Host");
  remove_header(r, "Upgrade");
  set_header(r, "Sec-WebSocket-Key", "bad");
  set_header(r, "Sec-WebSocket-Version", "8");
  CHECK(ws::check_handshake(r) == HandshakeError::MethodNotGet);
  r.method = "GET";
  CHECK(ws::check_handshake(r) == HandshakeError::HttpVersionTooOld);
  r.http_minor = 1;
  CHECK(ws::check_handshake(r) == HandshakeError::MissingHost);
  set_header(r, "Host", "h");
  CHECK(ws::check_handshake(r) == HandshakeError::NotAnUpgrade);
  set_header(r, "Upgrade", "websocket");
  CHECK(ws::check_handshake(r) == HandshakeError::BadKey);  // item 5 before item 6
  set_header(r, "Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==");
  CHECK(ws::check_handshake(r) == HandshakeError::UnsupportedVersion);
  set_header(r, "Sec-WebSocket-Version", "13");
  CHECK(ws::check_handshake(r) == HandshakeError::None);
}

TEST_CASE("handshake: describe and status for every error", "[ws_handshake_test]") {
  const HandshakeError all[] = {HandshakeError::MethodNotGet,       HandshakeError::HttpVersionTooOld,
                                HandshakeError::MissingHost,        HandshakeError::NotAnUpgrade,
                                HandshakeError::UnsupportedVersion, HandshakeError::BadKey};
  std::set<std::string> seen;
  for (HandshakeError e : all) {
    const char* text = ws::describe(e);
    REQUIRE(text != nullptr);
    CHECK(std::strlen(text) > 0);
    CHECK(seen.insert(text).second);
    const int status = ws::http_status_for(e);
    CHECK((status == 400 || status == 405 || status == 426));
  }
  CHECK(ws::describe(HandshakeError::None) != nullptr);
}
