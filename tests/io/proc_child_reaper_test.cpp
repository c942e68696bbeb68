// ChildReaper with real children and real loops: an exit reaches the loop
// that watches the child, on a later turn, even when the child ended
// before it was watched; an unwatched child's exit is dropped; two loops on
// two threads each hear only their own children. Every loop closes clean.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <thread>

#include "io_test_support.h"
#include "proc/child_reaper.h"
#include "proc/spawn.h"

using io_test::ChildGuard;
using io_test::TestLoop;
using wsbridge::proc::ChildReaper;
using wsbridge::proc::SpawnedChild;

namespace {

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

struct Recorder final : ChildReaper::Listener {
  std::atomic<int> reports{0};
  int wait_status = -1;
  void on_child_reaped(int status) noexcept override {
    wait_status = status;
    ++reports;
  }
};

// A child running `script`, its pipes closed at once (it needs none).
SpawnedChild start(const std::string& script) {
  SpawnedChild child;
  REQUIRE(wsbridge::proc::spawn_child("/bin/sh", {"sh", "-c", script}, kEnv, child) == 0);
  for (int* fd : {&child.stdin_fd, &child.stdout_fd, &child.stderr_fd}) io_test::close_fd(*fd);
  return child;
}

// Gone from /proc: reaped by someone (here, only the reaper can have).
bool vanished(pid_t pid) { return io_test::process_state(pid) == 0; }

}  // namespace

TEST_CASE("an exit reaches its watcher on a later turn, also when the child ended before the watch",
          "[proc_child_reaper_test]") {
  TestLoop loop;
  // The reaper runs once something is watched.
  SpawnedChild sleeper = start("exec sleep 30");
  ChildGuard sleeper_guard(sleeper.pid);
  Recorder sleeper_exit;
  REQUIRE(ChildReaper::watch(loop.get(), sleeper.pid, &sleeper_exit) == 0);

  // This one exits and is reaped before anyone watches it.
  SpawnedChild early = start("exit 7");
  ChildGuard early_guard(early.pid);
  const auto deadline = io_test::Clock::now() + std::chrono::seconds(5);
  while (!vanished(early.pid) && io_test::Clock::now() < deadline) usleep(5000);
  REQUIRE(vanished(early.pid));
  early_guard.release();
  Recorder early_exit;
  REQUIRE(ChildReaper::watch(loop.get(), early.pid, &early_exit) == 0);
  CHECK(early_exit.reports == 0);  // never from inside watch()
  REQUIRE(loop.run_until([&] { return early_exit.reports > 0; }));
  REQUIRE(WIFEXITED(early_exit.wait_status));
  CHECK(WEXITSTATUS(early_exit.wait_status) == 7);
  CHECK(sleeper_exit.reports == 0);

  kill(sleeper.pid, SIGKILL);
  REQUIRE(loop.run_until([&] { return sleeper_exit.reports > 0; }));
  sleeper_guard.release();
  REQUIRE(WIFSIGNALED(sleeper_exit.wait_status));
  CHECK(WTERMSIG(sleeper_exit.wait_status) == SIGKILL);
  CHECK(io_test::is_reaped(sleeper.pid));
  loop.run_for(50);
  CHECK(early_exit.reports == 1);
  CHECK(sleeper_exit.reports == 1);
  loop.close_and_check();  // the loop's mailbox closed with its last watch
}

TEST_CASE("an unwatched child's exit is dropped and its loop closes clean", "[proc_child_reaper_test]") {
  TestLoop loop;
  SpawnedChild child = start("exec sleep 30");
  ChildGuard guard(child.pid);
  Recorder exit;
  REQUIRE(ChildReaper::watch(loop.get(), child.pid, &exit) == 0);
  ChildReaper::unwatch(child.pid);
  kill(child.pid, SIGKILL);
  const auto deadline = io_test::Clock::now() + std::chrono::seconds(5);
  while (!vanished(child.pid) && io_test::Clock::now() < deadline) usleep(5000);
  CHECK(vanished(child.pid));
  guard.release();
  loop.run_for(100);
  CHECK(exit.reports == 0);
  loop.close_and_check();
}

namespace {

// One loop with `count` children whose exit statuses are base..base+count-1,
// ended in reverse order. No Catch2 assertion inside: it runs on a thread
// of its own too. Returns how many exits reached the right watcher with the
// right status; `closed_clean` says whether uv_loop_close succeeded.
int run_loop_of_children(int base, int count, bool& closed_clean) {
  uv_loop_t loop;
  closed_clean = false;
  if (uv_loop_init(&loop) != 0) return 0;
  std::vector<SpawnedChild> children;
  std::vector<Recorder> exits(static_cast<std::size_t>(count));
  for (int i = 0; i < count; ++i) {
    SpawnedChild child;
    const std::string script = "read line; exit " + std::to_string(base + i);
    if (wsbridge::proc::spawn_child("/bin/sh", {"sh", "-c", script}, kEnv, child) != 0) break;
    io_test::close_fd(child.stdout_fd);
    io_test::close_fd(child.stderr_fd);
    if (ChildReaper::watch(&loop, child.pid, &exits[static_cast<std::size_t>(i)]) != 0) break;
    children.push_back(child);
  }
  for (auto c = children.rbegin(); c != children.rend(); ++c) io_test::close_fd(c->stdin_fd);
  auto all_heard = [&] {
    for (std::size_t i = 0; i < children.size(); ++i) {
      if (exits[i].reports == 0) return false;
    }
    return true;
  };
  const auto deadline = io_test::Clock::now() + std::chrono::seconds(10);
  while (!all_heard() && io_test::Clock::now() < deadline) {
    uv_run(&loop, UV_RUN_NOWAIT);
    usleep(1000);
  }
  int right = 0;
  for (std::size_t i = 0; i < children.size(); ++i) {
    const Recorder& r = exits[i];
    if (r.reports == 1 && WIFEXITED(r.wait_status) && WEXITSTATUS(r.wait_status) == base + static_cast<int>(i)) {
      ++right;
    }
    if (r.reports == 0) {
      ChildReaper::unwatch(children[i].pid);
      kill(children[i].pid, SIGKILL);
    }
  }
  uv_run(&loop, UV_RUN_NOWAIT);
  closed_clean = uv_loop_close(&loop) == 0;
  return right;
}

}  // namespace

TEST_CASE("two loops on two threads each hear their own children's exits", "[proc_child_reaper_test]") {
  constexpr int kChildrenEach = 20;
  int right_on_thread = 0;
  bool thread_loop_clean = false;
  std::thread other([&] { right_on_thread = run_loop_of_children(100, kChildrenEach, thread_loop_clean); });
  bool main_loop_clean = false;
  const int right_here = run_loop_of_children(0, kChildrenEach, main_loop_clean);
  other.join();
  CHECK(right_here == kChildrenEach);
  CHECK(right_on_thread == kChildrenEach);
  CHECK(main_loop_clean);
  CHECK(thread_loop_clean);
}
