// The --auth program's answer: exit status, variable lines, header blocks.
#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/bridge/auth_verdict.h"

using wsbridge::bridge::read_auth_verdict;

namespace {
int exited(int code) { return (code & 0xFF) << 8; }  // as waitpid reports an exit
int killed(int signal) { return signal & 0x7F; }       // as waitpid reports a signal
}  // namespace

TEST_CASE("auth: exit 0 allows; REMOTE_USER and AUTH_* lines become variables, others are ignored", "[bridge_auth_verdict_test]") {
  const auto verdict = read_auth_verdict(exited(0),
                                         "REMOTE_USER=alice\r\n"
                                         "AUTH_ROLE=admin\n"
                                         "AUTH_TEAM_2=blue=green\n"
                                         "\n"
                                         "PATH=/evil\n"
                                         "AUTH_=x\n"
                                         "AUTH_lower=x\n"
                                         "AUTH_BELL=a\x07" "b\n"
                                         "checked the token");
  CHECK(verdict.allowed);
  REQUIRE(verdict.environment.size() == 3);
  CHECK(verdict.environment[0] == std::make_pair(std::string("REMOTE_USER"), std::string("alice")));
  CHECK(verdict.environment[1] == std::make_pair(std::string("AUTH_ROLE"), std::string("admin")));
  CHECK(verdict.environment[2] == std::make_pair(std::string("AUTH_TEAM_2"), std::string("blue=green")));
  REQUIRE(verdict.ignored.size() == 5);
  CHECK(verdict.ignored[0] == "PATH=/evil");
  CHECK(verdict.ignored[4] == "checked the token");
}

TEST_CASE("auth: exit 0 with no output allows with no variables", "[bridge_auth_verdict_test]") {
  const auto verdict = read_auth_verdict(exited(0), "");
  CHECK(verdict.allowed);
  CHECK(verdict.environment.empty());
  CHECK(verdict.ignored.empty());
}

TEST_CASE("auth: a non-zero exit or a signal refuses with 403", "[bridge_auth_verdict_test]") {
  for (const int status : {exited(1), exited(255), killed(9), killed(15)}) {
    const auto verdict = read_auth_verdict(status, "");
    CHECK_FALSE(verdict.allowed);
    CHECK(verdict.status == 403);
    CHECK(verdict.headers.empty());
    CHECK(verdict.body.empty());
  }
  // Variable lines mean nothing when refused.
  const auto verdict = read_auth_verdict(exited(1), "REMOTE_USER=alice\n");
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.environment.empty());
  CHECK(verdict.status == 403);
}

TEST_CASE("auth: a refusal's header block gives the status, headers and body", "[bridge_auth_verdict_test]") {
  const auto verdict = read_auth_verdict(exited(1),
                                         "Status: 401 Unauthorized\r\n"
                                         "WWW-Authenticate: Bearer realm=\"chat\"\r\n"
                                         "Content-Length: 99\r\n"
                                         "\r\n"
                                         "token expired\n");
  CHECK_FALSE(verdict.allowed);
  CHECK(verdict.status == 401);
  CHECK(verdict.reason == "Unauthorized");
  REQUIRE(verdict.headers.size() == 1);  // the server frames the response itself
  CHECK(verdict.headers[0].name == "WWW-Authenticate");
  CHECK(verdict.headers[0].value == "Bearer realm=\"chat\"");
  CHECK(verdict.body == "token expired\n");
}

TEST_CASE("auth: a Location alone redirects with 302", "[bridge_auth_verdict_test]") {
  const auto verdict = read_auth_verdict(exited(3), "Location: /login?next=%2Fchat\n\n");
  CHECK(verdict.status == 302);
  REQUIRE(verdict.headers.size() == 1);
  CHECK(verdict.headers[0].value == "/login?next=%2Fchat");
}

TEST_CASE("auth: a refusal never reads as a success, and a broken block is a plain 403", "[bridge_auth_verdict_test]") {
  const auto ok = read_auth_verdict(exited(1), "Status: 200 OK\n\nwelcome\n");
  CHECK(ok.status == 403);
  CHECK(ok.body.empty());
  CHECK(ok.ignored.size() == 1);
  const auto broken = read_auth_verdict(exited(1), "this is not a header block\n");
  CHECK(broken.status == 403);
  CHECK(broken.headers.empty());
  CHECK(broken.ignored.size() == 1);
}
