// ChildSession on a real loop with real children: what is written to stdin
// comes back through `cat`, stderr lines are offered to the owner as they
// are logged, a child that ignores stdin EOF and SIGINT/SIGTERM is ended
// by the stop sequence, and every child is reaped with every handle closed
// before the session reports closed (uv_loop_close() == 0).
#include <signal.h>
#include <sys/wait.h>

#include <memory>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/child_session.h"
#include "net/server_context.h"
#include "proc/spawn.h"
#include "wsbridge/cli/config.h"

using io_test::ChildGuard;
using io_test::TestLoop;
using wsbridge::net::ChildSession;
using wsbridge::net::ServerContext;
using wsbridge::net::StderrLines;
using wsbridge::proc::SpawnedChild;

namespace {

struct RecordingOwner final : ChildSession::Owner {
  ChildSession* session = nullptr;
  std::string out;
  std::vector<std::string> stderr_lines;
  bool take_stderr = false;
  int stdout_end = 0;  // the status on_child_stdout_end reported, 0 before
  int exits = 0;
  int wait_status = -1;
  int stdin_drains = 0;
  int stdin_failures = 0;
  int closes = 0;
  bool closed_before_exit = false;
  bool pause_after_first_read = false;
  int stdout_reads = 0;

  void on_child_stdout(char* data, std::size_t size) noexcept override {
    ++stdout_reads;
    out.append(data, size);
    if (pause_after_first_read) session->pause_stdout();
  }
  void on_child_stdout_end(int uv_status) noexcept override { stdout_end = uv_status; }
  void on_child_stderr(StderrLines& lines) override {
    if (!take_stderr) return;
    while (auto line = lines.next()) stderr_lines.emplace_back(*line);
  }
  void on_child_stdin_drained() noexcept override { ++stdin_drains; }
  void on_child_stdin_failed(int) noexcept override { ++stdin_failures; }
  void on_child_exited(int status) noexcept override {
    ++exits;
    wait_status = status;
  }
  void on_child_session_closed() noexcept override {
    ++closes;
    if (exits == 0) closed_before_exit = true;
  }
};

// A ChildSession over `sh -c script`, with the server's per-loop context
// (the scratch buffer its reads land in, --closems from the configuration).
struct Session {
  wsbridge::cli::Config config;
  std::unique_ptr<ServerContext> context = std::make_unique<ServerContext>();
  std::string log_fields;
  RecordingOwner owner;
  ChildSession session{*context, owner, log_fields};
  ChildGuard guard;
  pid_t pid = -1;

  Session(TestLoop& loop, const std::string& script) {
    context->config = &config;
    owner.session = &session;
    SpawnedChild spawned;
    REQUIRE(wsbridge::proc::spawn_child("/bin/sh", {"sh", "-c", script}, io_test::kEnv, spawned) == 0);
    guard.watch(spawned.pid);
    pid = spawned.pid;
    session.start(loop.get(), spawned, uv_hrtime());
    session.start_reading();
  }

  // Ends the session as its owners do and waits for the closed report.
  void close(TestLoop& loop) {
    session.stop();
    session.close_after_exit();
    REQUIRE(loop.run_until([&] { return owner.closes > 0; }));
    guard.release();
  }
};

}  // namespace

TEST_CASE("ChildSession: what goes to stdin comes back through cat, then EOF ends it", "[net_child_session_test]") {
  TestLoop loop;
  Session s(loop, "exec cat");
  REQUIRE(s.session.accepts_stdin());
  {
    auto cork = s.session.cork_stdin();
    s.session.write_stdin("hello\n", 6);
    s.session.write_stdin("world\n", 6);
  }
  REQUIRE(loop.run_until([&] { return s.owner.out == "hello\nworld\n"; }));
  s.session.finish_stdin();  // cat sees EOF and exits by itself
  REQUIRE(loop.run_until([&] { return s.owner.stdout_end != 0 && s.owner.exits == 1; }));
  CHECK(s.owner.stdout_end == UV_EOF);
  CHECK(WIFEXITED(s.owner.wait_status));
  CHECK(WEXITSTATUS(s.owner.wait_status) == 0);
  CHECK(io_test::is_reaped(s.pid));
  CHECK(s.owner.closes == 0);  // nothing closes before the owner asks
  s.close(loop);
  CHECK(s.owner.closes == 1);
  CHECK_FALSE(s.owner.closed_before_exit);
  CHECK(s.owner.stdin_failures == 0);
  loop.close_and_check();
}

TEST_CASE("ChildSession: stderr lines reach the owner, the rest of a read is still consumed",
          "[net_child_session_test]") {
  TestLoop loop;
  Session s(loop, "printf 'one\\ntwo\\nno newline' >&2; exec cat >/dev/null");
  s.owner.take_stderr = true;
  s.session.finish_stdin();
  REQUIRE(loop.run_until([&] { return s.owner.exits == 1; }));
  // The unterminated tail is a line too, at end of file.
  REQUIRE(loop.run_until([&] { return s.owner.stderr_lines.size() == 3; }));
  CHECK(s.owner.stderr_lines == std::vector<std::string>{"one", "two", "no newline"});
  s.close(loop);
  loop.close_and_check();
}

TEST_CASE("ChildSession: a paused stdout is read again on resume_output", "[net_child_session_test]") {
  TestLoop loop;
  Session s(loop, "echo first; read line; echo second");
  s.owner.pause_after_first_read = true;
  REQUIRE(loop.run_until([&] { return s.owner.out == "first\n"; }));
  s.session.write_stdin("go\n", 3);
  // Paused: the child's second line waits in the pipe.
  loop.run_for(300);
  CHECK(s.owner.out == "first\n");
  s.owner.pause_after_first_read = false;
  s.session.resume_output();
  REQUIRE(loop.run_until([&] { return s.owner.out == "first\nsecond\n"; }));
  s.close(loop);
  loop.close_and_check();
}

TEST_CASE("ChildSession: stop ends a child that ignores stdin EOF, SIGINT and SIGTERM", "[net_child_session_test]") {
  TestLoop loop;
  // The shell ignores INT and TERM and never reads stdin: only the last step
  // of the stop sequence, SIGKILL to its group, ends it.
  Session s(loop, "trap '' INT TERM; echo ready; while :; do sleep 0.05; done");
  REQUIRE(loop.run_until([&] { return s.owner.out == "ready\n"; }));
  s.session.stop();
  CHECK_FALSE(s.session.accepts_stdin());
  s.session.close_after_exit();
  REQUIRE(loop.run_until([&] { return s.owner.closes > 0; }));
  s.guard.release();
  CHECK(s.owner.exits == 1);
  REQUIRE(WIFSIGNALED(s.owner.wait_status));
  CHECK(WTERMSIG(s.owner.wait_status) == SIGKILL);
  CHECK(io_test::is_reaped(s.pid));
  CHECK_FALSE(s.owner.closed_before_exit);
  loop.close_and_check();
}

TEST_CASE("ChildSession: a child that exits without reading its stdin fails the queue, not the owner",
          "[net_child_session_test]") {
  TestLoop loop;
  Session s(loop, "exec true");
  REQUIRE(loop.run_until([&] { return s.owner.exits == 1; }));
  // More than a pipe holds, to a reader that is gone: EPIPE.
  std::string big(256 * 1024, 'x');
  s.session.write_stdin(big.data(), big.size());
  REQUIRE(loop.run_until([&] { return s.owner.stdin_failures == 1; }));
  CHECK_FALSE(s.session.accepts_stdin());
  s.close(loop);
  loop.close_and_check();
}
