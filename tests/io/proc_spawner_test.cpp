// The Spawner: a helper process (this test binary re-executed; io_main.cpp
// sends it to run_spawner) that starts children as the test process's own
// (CLONE_PARENT). What the server relies on: the child is ours to reap and
// signal, it holds only 0-2, and when the spawner is gone or stopped,
// spawn() starts children here or, once stopping, nothing.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "io_test_support.h"
#include "proc/spawner.h"

using io_test::ChildGuard;
using io_test::ChildIo;
using io_test::kEnv;
using io_test::Outcome;
using io_test::TestLoop;
using wsbridge::proc::SpawnedChild;
using wsbridge::proc::Spawner;

namespace {

// Starts `argv` through `spawner` and runs it to its end on a fresh loop,
// as proc_spawn_test does for spawn_child; the checks are made on the
// running child first when `check_running` is given.
Outcome run_to_end(Spawner& spawner, const std::string& path, const std::vector<std::string>& argv,
                   const std::string& input = "", const std::function<void(const SpawnedChild&)>& check_running = {}) {
  SpawnedChild child;
  REQUIRE(spawner.spawn(path, argv, kEnv, child) == 0);
  return io_test::run_to_end(child, input, check_running);
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// What `pid` has read so far (rchar in /proc/<pid>/io): a spawner reads each
// request it serves.
long long bytes_read_by(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/io");
  std::string key;
  long long value = -1;
  while (in >> key >> value) {
    if (key == "rchar:") return value;
  }
  return -1;
}

// Started for one test and stopped at its end, whatever happens.
struct StartedSpawner {
  Spawner spawner;
  StartedSpawner() {
    REQUIRE(spawner.start(getpid()) == 0);
    REQUIRE(spawner.pid() > 0);
  }
  ~StartedSpawner() { spawner.stop(); }
};

}  // namespace

TEST_CASE("the spawner runs as this program under its own name and starts children as ours",
          "[proc_spawner_test]") {
  StartedSpawner s;
  const pid_t spawner_pid = s.spawner.pid();
  CHECK(io_test::proc_status_field(spawner_pid, "PPid") == std::to_string(getpid()));
  // It may still be exec'ing: its name is set as run_spawner starts.
  const auto deadline = io_test::Clock::now() + std::chrono::seconds(5);
  while (read_file("/proc/" + std::to_string(spawner_pid) + "/comm") != "wsbridge-spawn\n" &&
         io_test::Clock::now() < deadline) {
    usleep(10 * 1000);
  }
  CHECK(read_file("/proc/" + std::to_string(spawner_pid) + "/comm") == "wsbridge-spawn\n");

  Outcome o = run_to_end(s.spawner, "/bin/cat", {"cat"}, "through the spawner\n", [&](const SpawnedChild& child) {
    CHECK(child.pid != spawner_pid);
    // CLONE_PARENT: our child, not the spawner's, so our waitpid works.
    CHECK(io_test::proc_status_field(child.pid, "PPid") == std::to_string(getpid()));
    CHECK(getpgid(child.pid) == child.pid);
    CHECK(io_test::proc_status_field(child.pid, "SigIgn") == "0000000000000000");
    CHECK(io_test::proc_status_field(child.pid, "SigBlk") == "0000000000000000");
  });
  CHECK(o.out == "through the spawner\n");
  CHECK(o.err.empty());
  REQUIRE(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 0);
  CHECK(s.spawner.pid() == spawner_pid);  // still in use, not fallen back
}

TEST_CASE("a child from the spawner holds descriptors 0, 1 and 2 and nothing else", "[proc_spawner_test]") {
  StartedSpawner s;
  Outcome o = run_to_end(s.spawner, "/bin/sh", {"sh", "-c", "ls /proc/$$/fd; echo err >&2; exit 4"});
  CHECK(o.out == "0\n1\n2\n");
  CHECK(o.err == "err\n");
  REQUIRE(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 4);
}

TEST_CASE("a failed exec in the spawner returns its errno, reaps the child and leaves nothing open",
          "[proc_spawner_test]") {
  StartedSpawner s;
  const int baseline = io_test::count_open_fds();
  SpawnedChild child;
  CHECK(s.spawner.spawn("/nonexistent/program", {"program"}, kEnv, child) == ENOENT);
  CHECK(child.pid == -1);
  CHECK(child.stdin_fd == -1);
  CHECK(io_test::count_open_fds() == baseline);
  CHECK_FALSE(io_test::has_unreaped_child());
  CHECK(s.spawner.spawn("/bin/true", {"true"}, kEnv, child, "/nonexistent/folder") == ENOENT);
  CHECK(io_test::count_open_fds() == baseline);
  CHECK_FALSE(io_test::has_unreaped_child());
  CHECK(s.spawner.pid() > 0);
}

TEST_CASE("spawn() is safe from several threads at once", "[proc_spawner_test]") {
  StartedSpawner s;
  constexpr int kThreads = 4, kEach = 8;
  std::vector<int> errors(kThreads * kEach, -1);
  std::vector<SpawnedChild> children(kThreads * kEach);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        const int n = t * kEach + i;
        errors[n] = s.spawner.spawn("/bin/sh", {"sh", "-c", "exit " + std::to_string(n)}, kEnv, children[n]);
      }
    });
  }
  for (auto& thread : threads) thread.join();
  for (int n = 0; n < kThreads * kEach; ++n) {
    INFO("spawn " << n);
    CHECK(errors[n] == 0);
    if (errors[n] != 0) continue;
    // Each pid is the child that was asked for: its exit status says which.
    auto status = io_test::wait_for_exit(children[n].pid);
    REQUIRE(status);
    CHECK(WIFEXITED(*status));
    CHECK(WEXITSTATUS(*status) == n);
    for (int* fd : {&children[n].stdin_fd, &children[n].stdout_fd, &children[n].stderr_fd}) {
      io_test::close_fd(*fd);
    }
  }
  CHECK(s.spawner.pid() > 0);
}

TEST_CASE("after stop(), spawn() starts nothing (ECANCELED) and the spawner is reaped", "[proc_spawner_test]") {
  Spawner spawner;
  REQUIRE(spawner.start(getpid()) == 0);
  const pid_t spawner_pid = spawner.pid();
  REQUIRE(spawner_pid > 0);
  spawner.stop();
  CHECK(spawner.pid() == -1);
  CHECK(io_test::is_reaped(spawner_pid));
  SpawnedChild child;
  CHECK(spawner.spawn("/bin/true", {"true"}, kEnv, child) == ECANCELED);
  CHECK(child.pid == -1);
  CHECK_FALSE(io_test::has_unreaped_child());
  spawner.stop();  // idempotent
  CHECK(spawner.spawn("/bin/true", {"true"}, kEnv, child) == ECANCELED);
}

TEST_CASE("when the spawner is killed, spawn() starts children in this process, reaps it, then replaces it",
          "[proc_spawner_test]") {
  StartedSpawner s;
  const pid_t spawner_pid = s.spawner.pid();
  REQUIRE(kill(spawner_pid, SIGKILL) == 0);
  // Dead (a zombie until the Spawner reaps it), not reaped here: WNOWAIT.
  siginfo_t info{};
  REQUIRE(waitid(P_PID, static_cast<id_t>(spawner_pid), &info, WEXITED | WNOWAIT) == 0);
  CHECK(info.si_code == CLD_KILLED);

  Outcome o = run_to_end(s.spawner, "/bin/cat", {"cat"}, "started here\n");
  CHECK(o.out == "started here\n");
  REQUIRE(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 0);
  CHECK(s.spawner.pid() == -1);
  CHECK(io_test::is_reaped(spawner_pid));
  CHECK_FALSE(io_test::has_unreaped_child());

  // Children go on starting, here or through a replacement.
  o = run_to_end(s.spawner, "/bin/sh", {"sh", "-c", "ls /proc/$$/fd"});
  CHECK(o.out == "0\n1\n2\n");

  // The first spawn after the backoff starts a replacement, as this
  // process's child, and the next spawn goes through it: it reads the request.
  usleep(static_cast<useconds_t>(std::chrono::microseconds(wsbridge::proc::kFirstRespawnDelay).count()) + 50 * 1000);
  o = run_to_end(s.spawner, "/bin/true", {"true"});
  const pid_t replacement = s.spawner.pid();
  REQUIRE(replacement > 0);
  CHECK(replacement != spawner_pid);
  CHECK(io_test::proc_status_field(replacement, "PPid") == std::to_string(getpid()));
  const long long read_before = bytes_read_by(replacement);
  o = run_to_end(s.spawner, "/bin/sh", {"sh", "-c", "echo $PPID"});
  CHECK(o.out == std::to_string(getpid()) + "\n");
  CHECK(bytes_read_by(replacement) > read_before);
  CHECK(s.spawner.pid() == replacement);
}

TEST_CASE("a Spawner that was never started starts children in this process", "[proc_spawner_test]") {
  Spawner spawner;
  CHECK(spawner.pid() == -1);
  Outcome o = run_to_end(spawner, "/bin/cat", {"cat"}, "no spawner\n");
  CHECK(o.out == "no spawner\n");
}

TEST_CASE("a stopped spawner costs one spawn the answer wait, then is killed and reaped; the child starts here",
          "[proc_spawner_test]") {
  StartedSpawner s;
  const pid_t stopped = s.spawner.pid();
  REQUIRE(kill(stopped, SIGSTOP) == 0);
  // Before, this waited for the spawner forever (ctest's timeout ends it).
  Outcome o = run_to_end(s.spawner, "/bin/cat", {"cat"}, "not through the stopped one\n");
  CHECK(o.out == "not through the stopped one\n");
  CHECK(s.spawner.pid() == -1);
  CHECK(io_test::is_reaped(stopped));
  CHECK_FALSE(io_test::has_unreaped_child());
}
