// The CGI header block (RFC 3875 §6), fed whole, byte by byte and split
// at every position.
#include <catch2/catch.hpp>

#include <algorithm>

#include "wsbridge/bridge/cgi_response.h"

using wsbridge::bridge::CgiResponseParser;
using Status = CgiResponseParser::Status;

namespace {

// Feeds `output` in pieces of `step` bytes; returns the status and the body
// bytes that followed the header block.
Status run(CgiResponseParser& parser, std::string_view output, std::size_t step, std::string& body) {
  for (std::size_t at = 0; at < output.size();) {
    const std::string_view piece = output.substr(at, step);
    std::size_t consumed = 0;
    const Status status = parser.feed(piece, consumed);
    if (status == Status::Done) {
      body = std::string(piece.substr(consumed)) + std::string(output.substr(at + piece.size()));
      return status;
    }
    if (status == Status::Error) return status;
    at += piece.size();
  }
  return parser.finish();
}

}  // namespace

TEST_CASE("a header block in any split gives the same result", "[bridge_cgi_response_test]") {
  const std::string output =
      "Content-Type: text/plain\r\nStatus: 404 Gone Fishing\nSet-Cookie: a=1\nSet-Cookie: b=2\r\n\r\nbody\nmore";
  for (std::size_t step : {output.size(), std::size_t{1}, std::size_t{2}, std::size_t{7}, std::size_t{30}}) {
    CAPTURE(step);
    CgiResponseParser parser;
    std::string body;
    REQUIRE(run(parser, output, step, body) == Status::Done);
    CHECK(parser.status() == 404);
    CHECK(parser.reason() == "Gone Fishing");
    REQUIRE(parser.headers().size() == 3);
    CHECK(parser.headers()[0].name == "Content-Type");
    CHECK(parser.headers()[0].value == "text/plain");
    CHECK(parser.headers()[2].value == "b=2");
    CHECK(body == "body\nmore");
  }
}

TEST_CASE("status defaults: 200 with a type, 302 with a Location", "[bridge_cgi_response_test]") {
  std::string body;
  CgiResponseParser plain;
  REQUIRE(run(plain, "Content-type: text/html\n\n<p>", 1000, body) == Status::Done);
  CHECK(plain.status() == 200);
  CHECK(plain.reason().empty());
  CHECK(body == "<p>");
  CgiResponseParser redirect;
  REQUIRE(run(redirect, "Location: https://example.com/\n\n", 1000, body) == Status::Done);
  CHECK(redirect.status() == 302);
  CgiResponseParser bare_status;
  REQUIRE(run(bare_status, "Status: 204\n\n", 1000, body) == Status::Done);
  CHECK(bare_status.status() == 204);
}

TEST_CASE("malformed header blocks are errors that say why", "[bridge_cgi_response_test]") {
  struct Case {
    const char* output;
    const char* why;
  };
  const Case cases[] = {
      {"", "wrote nothing"},
      {"Content-Type: text/plain\n", "ended inside"},
      {"just some text\n\n", "no ':'"},
      {"\n\nbody", "no headers"},
      {"X-Thing: 1\n\n", "neither Content-Type"},
      {"Status: abc\nContent-Type: a/b\n\n", "NNN reason"},
      {"Status: 101 Switching\n\n", "outside 200-599"},
      {"Bad Name: x\n\n", "valid token"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.output);
    CgiResponseParser parser;
    std::string body;
    CHECK(run(parser, c.output, 1000, body) == Status::Error);
    CHECK(parser.error().find(c.why) != std::string::npos);
  }
}

TEST_CASE("an endless header block is cut off at the limit", "[bridge_cgi_response_test]") {
  CgiResponseParser parser;
  const std::string line = "X-Filler: " + std::string(1000, 'x') + "\n";
  Status status = Status::NeedMore;
  for (int i = 0; i < 100 && status == Status::NeedMore; ++i) {
    std::size_t consumed = 0;
    status = parser.feed(line, consumed);
  }
  CHECK(status == Status::Error);
  CHECK(parser.error().find("longer than") != std::string::npos);
}

// ------------------------------------------------------ the script's environment

#include "wsbridge/bridge/cgi_script_env.h"

TEST_CASE("a CGI script's environment follows CGI/1.1", "[bridge_cgi_response_test]") {
  wsbridge::http::Request request;
  request.method = "POST";
  request.target = "/env.cgi/x?a=1";
  request.path = "/env.cgi/x";
  request.query = "a=1";
  request.has_query = true;
  request.headers = {{"Host", "example.org:8080"}, {"Content-Length", "5"}, {"Content-Type", "text/plain"},
                     {"X-Thing", "y"}};
  wsbridge::bridge::ConnectionFacts facts;
  facts.remote_addr = facts.remote_host = "127.0.0.1";
  facts.remote_port = "5555";
  facts.script_name = "/env.cgi";
  facts.path_info = "/x";
  facts.server_software = "wsbridge/test";
  const wsbridge::bridge::EnvList passenv = {{"PATH", "/custom/bin"}};
  const auto env = wsbridge::bridge::build_cgi_script_env(request, facts, passenv, "/srv/cgi/env.cgi");
  auto has = [&](const std::string& entry) {
    for (const auto& e : env) {
      if (e == entry) return true;
    }
    return false;
  };
  auto has_name = [&](const std::string& name) {
    for (const auto& e : env) {
      if (e.compare(0, name.size() + 1, name + "=") == 0) return true;
    }
    return false;
  };
  CHECK(has("GATEWAY_INTERFACE=CGI/1.1"));
  CHECK(has("REQUEST_METHOD=POST"));
  CHECK(has("CONTENT_LENGTH=5"));
  CHECK(has("CONTENT_TYPE=text/plain"));
  CHECK(has("HTTP_HOST=example.org:8080"));
  CHECK(has("SERVER_NAME=example.org"));
  CHECK(has("SERVER_PORT=8080"));
  CHECK(has("SCRIPT_NAME=/env.cgi"));
  CHECK(has("PATH_INFO=/x"));
  CHECK(has("QUERY_STRING=a=1"));
  CHECK(has("SCRIPT_FILENAME=/srv/cgi/env.cgi"));
  CHECK(has("PATH=/custom/bin"));
  CHECK(has("HTTP_X_THING=y"));
  CHECK_FALSE(has_name("HTTP_CONTENT_LENGTH"));
  CHECK_FALSE(has_name("HTTP_CONTENT_TYPE"));
  CHECK(std::count_if(env.begin(), env.end(), [](const std::string& e) { return e.rfind("CONTENT_LENGTH=", 0) == 0; }) == 1);
}
