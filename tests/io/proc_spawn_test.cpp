// spawn_child and its helpers with real programs: the child's pipes are
// opened on a loop as the server opens them (net::ChildSession::start), and
// what a child sees of itself (descriptors, process group, signal state)
// is read from /proc.
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <random>
#include <string>
#include <vector>

#include "io_test_support.h"
#include "net/write_queue.h"
#include "proc/spawn.h"

using io_test::ChildGuard;
using io_test::ChildIo;
using io_test::kEnv;
using io_test::Outcome;
using io_test::TestLoop;
using wsbridge::proc::SpawnedChild;
using wsbridge::proc::spawn_child;

namespace {

// Runs a program to its end on a fresh loop: `input` on its stdin, then end
// of file; its stdout and stderr read to end of file; reaped.
Outcome run_to_end(const std::string& path, const std::vector<std::string>& argv,
                   const std::vector<std::string>& env = kEnv, const std::string& input = "",
                   const char* cwd = nullptr) {
  SpawnedChild child;
  REQUIRE(spawn_child(path, argv, env, child, cwd) == 0);
  return io_test::run_to_end(child, input);
}

}  // namespace

TEST_CASE("/bin/cat gives back what was written to its stdin, byte for byte", "[proc_spawn_test]") {
  SECTION("a line") {
    Outcome o = run_to_end("/bin/cat", {"cat"}, kEnv, "hello, child\n");
    CHECK(o.out == "hello, child\n");
    CHECK(o.err.empty());
    REQUIRE(WIFEXITED(o.status));
    CHECK(WEXITSTATUS(o.status) == 0);
  }
  SECTION("4 MiB of binary data through a WriteQueue, both pipes busy at once") {
    std::string data(4 << 20, '\0');
    std::mt19937 random(11);
    for (char& c : data) c = static_cast<char>(random() & 0xff);

    TestLoop loop;
    SpawnedChild child;
    REQUIRE(spawn_child("/bin/cat", {"cat"}, kEnv, child) == 0);
    ChildGuard guard(child.pid);
    ChildIo io;
    io.open(loop.get(), child);
    struct Owner final : wsbridge::net::WriteQueue::Owner {
      ChildIo* io = nullptr;
      int errors = 0;
      void on_queue_drained(wsbridge::net::WriteQueue&) noexcept override {}
      void on_queue_finished(wsbridge::net::WriteQueue&) noexcept override { io->close_stdin(); }
      void on_queue_error(wsbridge::net::WriteQueue&, int) noexcept override { ++errors; }
    } owner;
    owner.io = &io;
    wsbridge::net::WriteQueue queue;
    queue.attach(io_test::as_stream(&io.in), &owner);
    REQUIRE(queue.write(data.data(), data.size()));
    queue.finish_then();
    REQUIRE(loop.run_until([&] { return io.outputs_ended(); }));
    CHECK(owner.errors == 0);
    CHECK(io.out_data.size() == data.size());
    CHECK(io.out_data == data);
    auto status = io_test::wait_for_exit(child.pid);
    REQUIRE(status);
    guard.release();
    CHECK(WIFEXITED(*status));
    io.close_all();
    REQUIRE(loop.run_until([&] { return io.all_closed(); }));
    loop.close_and_check();
  }
}

TEST_CASE("stdout and stderr are separate pipes, and the exit status is the child's", "[proc_spawn_test]") {
  Outcome o = run_to_end("/bin/sh", {"sh", "-c", "echo out; echo err >&2; exit 5"});
  CHECK(o.out == "out\n");
  CHECK(o.err == "err\n");
  REQUIRE(WIFEXITED(o.status));
  CHECK(WEXITSTATUS(o.status) == 5);
}

TEST_CASE("the child holds descriptors 0, 1 and 2, the server's ends of its three pipes, and nothing else",
          "[proc_spawn_test]") {
  TestLoop loop;
  // Descriptors this process holds and a child must not get: the loop's
  // own, and a pipe of a child started earlier.
  SpawnedChild other;
  REQUIRE(spawn_child("/bin/cat", {"cat"}, kEnv, other) == 0);
  ChildGuard other_guard(other.pid);

  SpawnedChild child;
  REQUIRE(spawn_child("/bin/sh", {"sh", "-c", "ls /proc/$$/fd; readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2"},
                      kEnv, child) == 0);
  ChildGuard guard(child.pid);
  const std::string expected = "0\n1\n2\n" + io_test::pipe_name(child.stdin_fd) + "\n" +
                               io_test::pipe_name(child.stdout_fd) + "\n" + io_test::pipe_name(child.stderr_fd) +
                               "\n";
  ChildIo io;
  io.open(loop.get(), child);
  io.close_stdin();
  REQUIRE(loop.run_until([&] { return io.outputs_ended(); }));
  CHECK(io.out_data == expected);
  CHECK(io.err_data.empty());
  REQUIRE(io_test::wait_for_exit(child.pid));
  guard.release();
  io.close_all();
  REQUIRE(loop.run_until([&] { return io.all_closed(); }));
  loop.close_and_check();

  wsbridge::proc::discard_child(other);
  other_guard.release();
}

TEST_CASE("the child has its own process group, default signal dispositions and an empty mask; "
          "discard_child ends and reaps it and closes its descriptors",
          "[proc_spawn_test]") {
  const int baseline = io_test::count_open_fds();
  // This process ignores SIGPIPE (the test main, as the server) and now
  // blocks SIGUSR1: neither may reach the child.
  sigset_t usr1, previous;
  sigemptyset(&usr1);
  sigaddset(&usr1, SIGUSR1);
  REQUIRE(sigprocmask(SIG_BLOCK, &usr1, &previous) == 0);
  SpawnedChild child;
  const int err = spawn_child("/bin/cat", {"cat"}, kEnv, child);
  sigprocmask(SIG_SETMASK, &previous, nullptr);
  REQUIRE(err == 0);
  ChildGuard guard(child.pid);

  REQUIRE(child.pid > 0);
  CHECK(getpgid(child.pid) == child.pid);
  CHECK(getpgid(child.pid) != getpgid(0));
  CHECK(io_test::proc_status_field(child.pid, "PPid") == std::to_string(getpid()));
  CHECK(io_test::ignored_application_signals(child.pid) == 0);
  CHECK(io_test::proc_status_field(child.pid, "SigBlk") == "0000000000000000");
  // The server's ends are non-blocking and close-on-exec.
  for (int fd : {child.stdin_fd, child.stdout_fd, child.stderr_fd}) {
    CHECK((fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  }
  for (int fd : {child.stdin_fd, child.stdout_fd, child.stderr_fd}) CHECK((fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
  // Three pipe ends and nothing else: no pidfd (the ChildReaper reports exits).
  CHECK(io_test::count_open_fds() == baseline + 3);

  const pid_t pid = child.pid;
  wsbridge::proc::discard_child(child);
  guard.release();
  CHECK(child.pid == -1);
  CHECK(child.stdin_fd == -1);
  CHECK(child.stdout_fd == -1);
  CHECK(child.stderr_fd == -1);
  CHECK(io_test::is_reaped(pid));
  CHECK(io_test::process_state(pid) == 0);
  CHECK(io_test::count_open_fds() == baseline);
}

TEST_CASE("reap_child leaves no zombie", "[proc_spawn_test]") {
  const int baseline = io_test::count_open_fds();
  SpawnedChild child;
  REQUIRE(spawn_child("/bin/sh", {"sh", "-c", "exit 0"}, kEnv, child) == 0);
  ChildGuard guard(child.pid);
  wsbridge::proc::reap_child(child.pid);
  guard.release();
  CHECK(io_test::is_reaped(child.pid));
  CHECK(io_test::process_state(child.pid) == 0);
  for (int* fd : {&child.stdin_fd, &child.stdout_fd, &child.stderr_fd}) io_test::close_fd(*fd);
  CHECK(io_test::count_open_fds() == baseline);
}

TEST_CASE("env is the child's whole environment and cwd its working directory", "[proc_spawn_test]") {
  SECTION("env") {
    Outcome o = run_to_end("/usr/bin/env", {"env"}, {"A=1", "B=two words"});
    CHECK(o.out == "A=1\nB=two words\n");
  }
  SECTION("cwd") {
    char dir_template[] = "/tmp/wsbridge-io-XXXXXX";
    REQUIRE(mkdtemp(dir_template) != nullptr);
    char real[PATH_MAX];
    REQUIRE(realpath(dir_template, real) != nullptr);
    Outcome o = run_to_end("/bin/pwd", {"pwd", "-P"}, kEnv, "", dir_template);
    rmdir(dir_template);
    CHECK(o.out == std::string(real) + "\n");
  }
  SECTION("argv as given, argv[0] included") {
    Outcome o = run_to_end("/bin/sh", {"name-of-zero", "-c", "echo \"$0|$1|$2\"", "x", "a b", "c"});
    CHECK(o.out == "x|a b|c\n");
  }
}

TEST_CASE("a spawn that fails returns its errno with nothing left open and no child left", "[proc_spawn_test]") {
  const int baseline = io_test::count_open_fds();
  SpawnedChild child;
  int err = 0;
  SECTION("a missing program") {
    err = spawn_child("/nonexistent/program", {"program"}, kEnv, child);
    CHECK(err == ENOENT);
  }
  SECTION("a file that is not executable") {
    char path[] = "/tmp/wsbridge-io-XXXXXX";
    int fd = mkstemp(path);
    REQUIRE(fd >= 0);
    close(fd);
    err = spawn_child(path, {"x"}, kEnv, child);
    unlink(path);
    CHECK(err == EACCES);
  }
  SECTION("a working directory that does not exist") {
    err = spawn_child("/bin/true", {"true"}, kEnv, child, "/nonexistent/folder");
    CHECK(err == ENOENT);
  }
  CHECK(child.pid == -1);
  CHECK(child.stdin_fd == -1);
  CHECK(child.stdout_fd == -1);
  CHECK(child.stderr_fd == -1);
  CHECK(io_test::count_open_fds() == baseline);
  CHECK_FALSE(io_test::has_unreaped_child());
}

TEST_CASE("find_executable searches PATH like a shell", "[proc_spawn_test]") {
  using wsbridge::proc::find_executable;
  CHECK(find_executable("sh", "/nonexistent:/bin") == "/bin/sh");
  CHECK(find_executable("no-such-program-here", "/bin:/usr/bin").empty());
  CHECK(find_executable("/bin/sh", "/nonexistent") == "/bin/sh");
  // A name with a slash is not searched for, and a folder is not a program.
  CHECK(find_executable("/bin", "/") .empty());
  CHECK(find_executable("", "/bin").empty());
}
