// ChildProcess on a real loop: real children reaped by the ChildReaper, the escalation
// timer. Every test reaps its child and ends with uv_loop_close() == 0.
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "io_test_support.h"
#include "proc/child_process.h"
#include "proc/spawn.h"

using io_test::ChildGuard;
using io_test::Clock;
using io_test::ms_since;
using io_test::PipeReader;
using io_test::TestLoop;
using wsbridge::proc::ChildProcess;
using wsbridge::proc::SpawnedChild;

namespace {

// Libuv's timers count from the loop's cached time, which is older than the
// moment a timer is started by however long the iteration has run (longer
// on a loaded machine); the tests refresh it before they start the clock,
// and lower bounds allow for the escalation's own restarts.
constexpr long long kTimerSlackMs = 150;

struct RecordingOwner final : ChildProcess::Owner {
  int exits = 0;
  int wait_status = -1;
  int closes = 0;
  bool closed_before_exit = false;
  int flush_timeouts = 0;
  Clock::time_point exited_at{};
  Clock::time_point flush_timeout_at{};
  std::function<void()> on_flush_timeout;

  void on_child_exited(int status) noexcept override {
    ++exits;
    wait_status = status;
    exited_at = Clock::now();
  }
  void on_child_closed() noexcept override {
    ++closes;
    if (exits == 0) closed_before_exit = true;
  }
  void on_stdin_flush_timeout() noexcept override {
    ++flush_timeouts;
    flush_timeout_at = Clock::now();
    if (on_flush_timeout) on_flush_timeout();
  }
};

// A child of `sh -c script` the ChildProcess watches; the test
// keeps its pipes (stdout read through `out` when asked).
struct WatchedChild {
  SpawnedChild spawned;
  ChildGuard guard;
  ChildProcess child;
  RecordingOwner owner;
  PipeReader out;

  WatchedChild(TestLoop& loop, const std::string& script, bool read_stdout = false) {
    REQUIRE(wsbridge::proc::spawn_child("/bin/sh", {"sh", "-c", script}, {"PATH=/usr/bin:/bin"}, spawned) == 0);
    guard.watch(spawned.pid);
    REQUIRE(child.watch(loop.get(), spawned.pid, &owner) == 0);
    // stderr stays open, unread: a shell reports a job killed by a signal
    // there ("Terminated"), and a closed pipe would kill it with SIGPIPE.
    if (read_stdout) {
      out.open(loop.get(), spawned.stdout_fd);
      spawned.stdout_fd = -1;
      out.resume();
    } else {
      io_test::close_fd(spawned.stdout_fd);
    }
  }
  void close_stdin() { io_test::close_fd(spawned.stdin_fd); }

  // Closes what the test holds, then: no handle left on the loop, the child
  // reaped (the ChildReaper did it), and no descriptor left open.
  void finish(TestLoop& loop) {
    close_stdin();
    io_test::close_fd(spawned.stderr_fd);
    if (!out.closed) out.close();
    REQUIRE(loop.run_until([&] { return out.closed; }));
    loop.close_and_check();
    CHECK(io_test::is_reaped(spawned.pid));
    guard.release();
    CHECK(io_test::count_open_fds() == loop.fds_before());
  }
};

}  // namespace

TEST_CASE("on_child_exited reports an exit status, and close_when_done waits for it", "[proc_child_process_test]") {
  TestLoop loop;
  // The child waits for its stdin to close before exiting with status 3.
  WatchedChild w(loop, "read line; exit 3");
  // Asked before the exit: the handles stay open until the child is reaped.
  w.child.close_when_done();
  loop.run_for(200);
  CHECK(w.owner.exits == 0);
  CHECK(w.owner.closes == 0);
  CHECK_FALSE(w.child.exited());

  w.close_stdin();
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }));
  CHECK(w.owner.exits == 1);
  CHECK_FALSE(w.owner.closed_before_exit);
  CHECK(w.child.exited());
  REQUIRE(WIFEXITED(w.owner.wait_status));
  CHECK(WEXITSTATUS(w.owner.wait_status) == 3);
  // Repeated requests change nothing.
  w.child.close_when_done();
  loop.run_for(50);
  CHECK(w.owner.closes == 1);
  w.finish(loop);
}

TEST_CASE("a child killed by a signal reports that signal", "[proc_child_process_test]") {
  TestLoop loop;
  WatchedChild w(loop, "exec sleep 60");
  loop.run_for(100);
  CHECK(w.owner.exits == 0);
  REQUIRE(kill(w.spawned.pid, SIGTERM) == 0);
  REQUIRE(loop.run_until([&] { return w.owner.exits > 0; }));
  REQUIRE(WIFSIGNALED(w.owner.wait_status));
  CHECK(WTERMSIG(w.owner.wait_status) == SIGTERM);
  CHECK(w.owner.closes == 0);  // not asked to close yet
  w.child.close_when_done();
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }));
  w.finish(loop);
}

TEST_CASE("begin_termination sends SIGINT, SIGTERM, then SIGKILL to the group, each delay plus closems",
          "[proc_child_process_test]") {
  TestLoop loop;
  // A shell that survives SIGINT and SIGTERM, saying when each came; its
  // `sleep` is in the same group and dies of each, so the traps run at once.
  WatchedChild w(loop,
                 "trap 'echo INT' INT; trap 'echo TERM' TERM; echo ready; "
                 "while :; do sleep 1; done",
                 /*read_stdout=*/true);
  REQUIRE(loop.run_until([&] { return w.out.data == "ready\n"; }));

  constexpr unsigned kClosems = 200;
  uv_update_time(loop.get());
  const auto started = Clock::now();
  w.child.begin_termination(kClosems, /*stdin_closed=*/true);
  w.child.begin_termination(kClosems, true);  // idempotent: no second schedule
  w.child.close_when_done();
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }));

  REQUIRE(WIFSIGNALED(w.owner.wait_status));
  CHECK(WTERMSIG(w.owner.wait_status) == SIGKILL);
  REQUIRE(loop.run_until([&] { return w.out.eof; }));
  CHECK(w.out.data == "ready\nINT\nTERM\n");
  // websocketd's 100 + 250 + 500 ms, each plus --closems.
  const long long elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(w.owner.exited_at - started).count();
  CHECK(elapsed >= 100 + 250 + 500 + 3 * kClosems - kTimerSlackMs);
  w.finish(loop);
}

TEST_CASE("a grandchild that ignores SIGINT does not outlive the termination", "[proc_child_process_test]") {
  TestLoop loop;
  // A non-interactive shell starts `sleep &` with SIGINT ignored; the direct
  // child then dies of the first signal and leaves it behind.
  WatchedChild w(loop, "sleep 60 & echo $!; exec sleep 60", /*read_stdout=*/true);
  REQUIRE(loop.run_until([&] { return w.out.data.find('\n') != std::string::npos; }));
  const pid_t grandchild = static_cast<pid_t>(std::stol(w.out.data));
  REQUIRE(grandchild > 0);
  const char state_before = io_test::process_state(grandchild);
  CHECK((state_before == 'S' || state_before == 'R'));
  CHECK(getpgid(grandchild) == w.spawned.pid);

  w.child.begin_termination(0, /*stdin_closed=*/true);
  w.child.close_when_done();
  REQUIRE(loop.run_until([&] { return w.owner.exits > 0; }));
  REQUIRE(WIFSIGNALED(w.owner.wait_status));
  CHECK(WTERMSIG(w.owner.wait_status) == SIGINT);
  // The escalation goes on for the rest of the group.
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }));
  // Dead: gone, or a zombie waiting for init (not our child to reap).
  const char state_after = io_test::process_state(grandchild);
  INFO("grandchild state " << (state_after ? state_after : '-'));
  CHECK((state_after == 0 || state_after == 'Z'));
  w.finish(loop);
}

TEST_CASE("the escalation waits for stdin to be closed", "[proc_child_process_test]") {
  TestLoop loop;
  WatchedChild w(loop, "exec sleep 60");
  constexpr unsigned kClosems = 400;
  w.child.begin_termination(kClosems, /*stdin_closed=*/false);
  w.child.close_when_done();
  // Without the wait SIGINT would come after 500 ms.
  loop.run_for(1500);
  CHECK(w.owner.exits == 0);
  CHECK(w.owner.flush_timeouts == 0);

  w.close_stdin();
  uv_update_time(loop.get());
  const auto closed_at = Clock::now();
  w.child.note_stdin_closed();
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }));
  REQUIRE(WIFSIGNALED(w.owner.wait_status));
  CHECK(WTERMSIG(w.owner.wait_status) == SIGINT);
  const long long elapsed = std::chrono::duration_cast<std::chrono::milliseconds>(w.owner.exited_at - closed_at).count();
  // The first step's delay counts from here, not from begin_termination.
  CHECK(elapsed >= 100 + kClosems - kTimerSlackMs);
  CHECK(w.owner.flush_timeouts == 0);
  w.finish(loop);
}

TEST_CASE("a child that does not take its stdin gets on_stdin_flush_timeout, then the signals",
          "[proc_child_process_test]") {
  TestLoop loop;
  WatchedChild w(loop, "exec sleep 60");
  // As Connection does: close stdin, dropping what is left, and say so.
  w.owner.on_flush_timeout = [&] {
    w.close_stdin();
    w.child.note_stdin_closed();
  };
  uv_update_time(loop.get());
  const auto started = Clock::now();
  w.child.begin_termination(0, /*stdin_closed=*/false);
  w.child.close_when_done();
  REQUIRE(loop.run_until([&] { return w.owner.closes > 0; }, ChildProcess::kStdinFlushTimeoutMs / 1000.0 + 10));
  CHECK(w.owner.flush_timeouts == 1);
  const long long waited =
      std::chrono::duration_cast<std::chrono::milliseconds>(w.owner.flush_timeout_at - started).count();
  CHECK(waited >= static_cast<long long>(ChildProcess::kStdinFlushTimeoutMs) - kTimerSlackMs);
  REQUIRE(WIFSIGNALED(w.owner.wait_status));
  CHECK(WTERMSIG(w.owner.wait_status) == SIGINT);
  w.finish(loop);
}

TEST_CASE("begin_termination after the child and its group are gone closes without waiting for a timer",
          "[proc_child_process_test]") {
  TestLoop loop;
  WatchedChild w(loop, "exit 0");
  REQUIRE(loop.run_until([&] { return w.owner.exits > 0; }));
  REQUIRE(WIFEXITED(w.owner.wait_status));
  CHECK(WEXITSTATUS(w.owner.wait_status) == 0);

  w.child.begin_termination(0, /*stdin_closed=*/false);
  w.child.close_when_done();
  // Nothing to signal and nothing to wait for: the close callbacks come in
  // the next iterations, which never block (UV_RUN_NOWAIT), so a timer of
  // even 100 ms would not have fired.
  for (int i = 0; i < 4 && w.owner.closes == 0; ++i) uv_run(loop.get(), UV_RUN_NOWAIT);
  CHECK(w.owner.closes == 1);
  CHECK(w.owner.flush_timeouts == 0);
  w.finish(loop);
}
