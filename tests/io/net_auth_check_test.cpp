// AuthCheck on a real loop with real programs: a verdict from exit status
// and output, the environment the program sees, the timeout (503, program
// stopped), a program that exits but leaves its stdout to a background
// process, the --maxforks slot it holds, and cancelling. Every check ends
// with every handle closed (uv_loop_close() == 0).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/auth_check.h"
#include "net/server_context.h"
#include "proc/spawner.h"
#include "wsbridge/cli/config.h"

using io_test::TestLoop;
using wsbridge::bridge::AuthVerdict;
using wsbridge::net::AuthCheck;
using wsbridge::net::ForkSlots;
using wsbridge::net::ServerContext;

namespace {

// An executable shell script in a temporary file, removed at the end.
struct Script {
  std::string path;
  explicit Script(const std::string& body) {
    char name[] = "/tmp/wsbridge-auth-XXXXXX";
    const int fd = mkstemp(name);
    REQUIRE(fd >= 0);
    close(fd);
    path = name;
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    REQUIRE(chmod(path.c_str(), 0700) == 0);
  }
  ~Script() { std::remove(path.c_str()); }
};

struct Harness final : AuthCheck::Owner {
  wsbridge::cli::Config config;
  std::unique_ptr<ServerContext> context = std::make_unique<ServerContext>();
  ForkSlots slots;
  wsbridge::proc::Spawner spawner;  // not started: children are spawned in this process
  std::unique_ptr<AuthCheck> check;
  int decisions = 0;
  AuthVerdict verdict;
  bool closed = false;

  explicit Harness(int maxforks = 0) : slots(maxforks) {
    context->config = &config;
    context->fork_slots = &slots;
    context->spawner = &spawner;
    check = std::make_unique<AuthCheck>(*context, *this, "");
  }
  void on_auth_decided(AuthVerdict& v) noexcept override {
    ++decisions;
    verdict = std::move(v);
  }
  void on_auth_closed() noexcept override { closed = true; }

  int start(TestLoop& loop, const Script& script, std::vector<std::string> env = {}, unsigned timeout_ms = 5000) {
    env.push_back("PATH=/usr/bin:/bin");
    return check->start(loop.get(), script.path, std::move(env), timeout_ms);
  }
};

}  // namespace

TEST_CASE("AuthCheck: exit 0 allows with the variables printed; the slot is given back", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h;
  Script script("echo REMOTE_USER=alice; echo \"AUTH_QUERY=$QUERY_STRING\"; echo noise; exit 0");
  REQUIRE(h.start(loop, script, {"QUERY_STRING=token=abc"}) == 0);
  CHECK(h.slots.active() == 1);
  REQUIRE(loop.run_until([&] { return h.closed; }));
  CHECK(h.decisions == 1);
  CHECK(h.verdict.allowed);
  REQUIRE(h.verdict.environment.size() == 2);
  CHECK(h.verdict.environment[0].second == "alice");
  CHECK(h.verdict.environment[1] == std::make_pair(std::string("AUTH_QUERY"), std::string("token=abc")));
  CHECK(h.verdict.ignored == std::vector<std::string>{"noise"});
  CHECK(h.slots.active() == 0);
  loop.close_and_check();
}
TEST_CASE("AuthCheck: a refusal's header block is the answer", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h;
  Script script("printf 'Status: 401 Unauthorized\\r\\nWWW-Authenticate: Basic realm=x\\r\\n\\r\\nwho are you\\n'; exit 1");
  REQUIRE(h.start(loop, script) == 0);
  REQUIRE(loop.run_until([&] { return h.closed; }));
  CHECK(h.decisions == 1);
  CHECK_FALSE(h.verdict.allowed);
  CHECK(h.verdict.status == 401);
  REQUIRE(h.verdict.headers.size() == 1);
  CHECK(h.verdict.headers[0].value == "Basic realm=x");
  CHECK(h.verdict.body == "who are you\n");
  loop.close_and_check();
}
TEST_CASE("AuthCheck: no answer in time is 503, and the program is stopped", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h;
  Script script("trap '' INT TERM; sleep 30");  // ignores the polite signals: only SIGKILL ends it
  REQUIRE(h.start(loop, script, {}, 200) == 0);
  REQUIRE(loop.run_until([&] { return h.closed; }));
  CHECK(h.decisions == 1);
  CHECK(h.check->timed_out());
  CHECK_FALSE(h.verdict.allowed);
  CHECK(h.verdict.status == 503);
  CHECK(h.slots.active() == 0);
  loop.close_and_check();
}
TEST_CASE("AuthCheck: a program that exits but leaves its stdout open is judged at the timeout", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h;
  Script script("sleep 30 & echo REMOTE_USER=bob; exit 0");
  REQUIRE(h.start(loop, script, {}, 300) == 0);
  REQUIRE(loop.run_until([&] { return h.closed; }));
  CHECK(h.decisions == 1);
  CHECK_FALSE(h.check->timed_out());
  CHECK(h.verdict.allowed);
  REQUIRE(h.verdict.environment.size() == 1);
  CHECK(h.verdict.environment[0].second == "bob");
  loop.close_and_check();
}
TEST_CASE("AuthCheck: it needs a --maxforks slot", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h(1);
  REQUIRE(h.slots.take());
  Script script("exit 0");
  CHECK(h.start(loop, script) == EAGAIN);
  h.slots.release();
  CHECK(h.decisions == 0);
  loop.close_and_check();
}
TEST_CASE("AuthCheck: cancelled while it runs, it reports no verdict and closes", "[net_auth_check_test]") {
  TestLoop loop;
  Harness h;
  Script script("sleep 30");
  REQUIRE(h.start(loop, script) == 0);
  REQUIRE(loop.run_until([&] { return h.slots.active() == 1 && h.check != nullptr; }));
  h.check->cancel();
  REQUIRE(loop.run_until([&] { return h.closed; }));
  CHECK(h.decisions == 0);
  CHECK(h.slots.active() == 0);
  loop.close_and_check();
}
