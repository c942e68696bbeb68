// The refusal table: one row per refusal, statuses and bodies as clients
// and websocketd-compatible tools expect them, labels fit for metrics.
#include <catch2/catch.hpp>

#include <cerrno>
#include <set>
#include <string>

#include "wsbridge/http/refusal.h"
#include "wsbridge/ws/handshake.h"

using wsbridge::http::add_refusal_headers;
using wsbridge::http::Header;
using wsbridge::http::kRefusalCount;
using wsbridge::http::Refusal;
using wsbridge::http::refusal_body;
using wsbridge::http::refusal_for_launch_error;
using wsbridge::http::refusal_for_request_error;
using wsbridge::http::refusal_info;

namespace {
Refusal nth(std::size_t i) { return static_cast<Refusal>(i); }
}  // namespace

TEST_CASE("every refusal has its own row, in enum order", "[http_refusal_test]") {
  std::set<std::string> labels;
  for (std::size_t i = 0; i < kRefusalCount; ++i) {
    const auto& info = refusal_info(nth(i));
    CHECK(info.refusal == nth(i));
    CHECK(info.status >= 400);
    CHECK(info.status <= 599);
    // Metrics labels: lower_snake_case and unique.
    REQUIRE_FALSE(info.label.empty());
    for (char c : info.label) CHECK(((c >= 'a' && c <= 'z') || c == '_'));
    CHECK(labels.insert(std::string(info.label)).second);
  }
}

TEST_CASE("bodies start with the status and end with a newline", "[http_refusal_test]") {
  for (std::size_t i = 0; i < kRefusalCount; ++i) {
    const std::string body = refusal_body(nth(i));
    CHECK(body.rfind(std::to_string(refusal_info(nth(i)).status) + " ", 0) == 0);
    CHECK(body.back() == '\n');
  }
}

TEST_CASE("the bodies clients see today", "[http_refusal_test]") {
  CHECK(refusal_body(Refusal::ForkLimit) == "429 Too Many Requests\n");
  CHECK(refusal_body(Refusal::ScriptNotFound) == "404 Not Found\n");
  CHECK(refusal_body(Refusal::NotFound) == "404 page not found\n");
  CHECK(refusal_body(Refusal::NotFound, "ignored: the body is websocketd's") == "404 page not found\n");
  CHECK(refusal_body(Refusal::RequestTimeout) == "408 Request Timeout: the request head took too long\n");
  CHECK(refusal_body(Refusal::ShortOfResources) == "503 Service Unavailable: out of memory\n");
  CHECK(refusal_body(Refusal::MalformedPath) == "400 Bad Request: malformed URL path\n");
  CHECK(refusal_body(Refusal::ChunkedBody) ==
        "411 Length Required: send CGI request bodies with Content-Length, not chunked\n");
  CHECK(refusal_body(Refusal::Forbidden, "dotfile") == "403 Forbidden: dotfile\n");
  CHECK(refusal_body(Refusal::LaunchFailed, "could not launch the command (No such file or directory)") ==
        "500 Internal Server Error: could not launch the command (No such file or directory)\n");
}

TEST_CASE("refusals that need a header carry it", "[http_refusal_test]") {
  std::vector<Header> headers;
  add_refusal_headers(Refusal::UnsupportedWebSocketVersion, headers);
  REQUIRE(headers.size() == 1);
  CHECK(headers[0].name == "Sec-WebSocket-Version");
  CHECK(headers[0].value == "13");
  add_refusal_headers(Refusal::MethodNotAllowed, headers);
  REQUIRE(headers.size() == 2);
  CHECK(headers[1].name == "Allow");
  CHECK(headers[1].value == "GET, HEAD");
  add_refusal_headers(Refusal::ForkLimit, headers);
  CHECK(headers.size() == 2);
}

TEST_CASE("parser statuses map to their refusal", "[http_refusal_test]") {
  for (int status : {400, 408, 414, 431, 501, 505}) {
    CHECK(refusal_info(refusal_for_request_error(status)).status == status);
  }
  CHECK(refusal_for_request_error(418) == Refusal::MalformedRequest);
}

TEST_CASE("a shortage is 503, any other launch error 500", "[http_refusal_test]") {
  for (int error : {EMFILE, ENFILE, ENOMEM, EAGAIN}) {
    CHECK(refusal_for_launch_error(error) == Refusal::ShortOfResources);
  }
  for (int error : {ENOENT, EACCES, ENOEXEC}) CHECK(refusal_for_launch_error(error) == Refusal::LaunchFailed);
}

TEST_CASE("handshake errors are refused through the table", "[http_refusal_test]") {
  using wsbridge::ws::HandshakeError;
  CHECK(wsbridge::ws::refusal_for(HandshakeError::UnsupportedVersion) == Refusal::UnsupportedWebSocketVersion);
  CHECK(wsbridge::ws::refusal_for(HandshakeError::MethodNotGet) == Refusal::HandshakeNotGet);
  CHECK(wsbridge::ws::refusal_for(HandshakeError::BadKey) == Refusal::BadHandshake);
  CHECK(wsbridge::ws::http_status_for(HandshakeError::None) == 101);
}
