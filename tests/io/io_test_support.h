// Shared pieces of the loop-level tests (tests/io): a loop whose every wait
// is bounded and whose end checks that no handle was left open (libuv's
// test/task.h asserts uv_loop_close() == 0 the same way), the server's ends
// of a spawned child's pipes, and helpers for descriptors and processes.
//
// Waits are generous (seconds, not milliseconds): the CI machine is loaded,
// and a wait that passes its deadline fails the test rather than hang it.
#pragma once
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include <catch2/catch.hpp>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "net/uv_cast.h"
#include "proc/spawn.h"

namespace io_test {

using wsbridge::net::as_handle;
using wsbridge::net::as_stream;
using Clock = std::chrono::steady_clock;

// How long any single wait may take before the test fails.
constexpr double kWaitSeconds = 10;

inline long long ms_since(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

// Descriptors this process holds (the directory's own is not counted).
inline int count_open_fds() {
  DIR* dir = opendir("/proc/self/fd");
  REQUIRE(dir != nullptr);
  int count = 0;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] != '.') ++count;
  }
  closedir(dir);
  return count - 1;
}

// One loop per test. A failed REQUIRE leaves the loop as it is (its handles
// may live in objects already destroyed), so the destructor does nothing.
class TestLoop {
 public:
  TestLoop() : fds_before_(count_open_fds()) {
    REQUIRE(uv_loop_init(&loop_) == 0);
    REQUIRE(uv_timer_init(&loop_, &deadline_) == 0);
    deadline_.data = this;
  }
  TestLoop(const TestLoop&) = delete;
  TestLoop& operator=(const TestLoop&) = delete;

  uv_loop_t* get() noexcept { return &loop_; }
  // How many descriptors this process held before the loop made its own.
  int fds_before() const noexcept { return fds_before_; }

  // Runs the loop until `done` holds. False if `seconds` passed first.
  [[nodiscard]] bool run_until(const std::function<bool()>& done, double seconds = kWaitSeconds) {
    expired_ = false;
    uv_update_time(&loop_);
    uv_timer_start(&deadline_, &TestLoop::on_deadline, static_cast<std::uint64_t>(seconds * 1000), 0);
    while (!done() && !expired_) uv_run(&loop_, UV_RUN_ONCE);
    uv_timer_stop(&deadline_);
    return done();
  }

  // Runs the loop for `ms` whatever happens, to show that something does
  // not happen in that time.
  void run_for(unsigned ms) { (void)run_until([] { return false; }, ms / 1000.0); }

  // Closes the deadline timer, lets the pending close callbacks run, and
  // requires that nothing is left: a handle the code under test (or the
  // test) failed to close makes uv_loop_close() return UV_EBUSY.
  void close_and_check() {
    uv_close(as_handle(&deadline_), nullptr);
    for (int i = 0; i < 8; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
    std::string left;
    uv_walk(
        &loop_,
        [](uv_handle_t* handle, void* arg) {
          auto* text = static_cast<std::string*>(arg);
          *text += std::string(uv_handle_type_name(uv_handle_get_type(handle))) +
                   (uv_is_closing(handle) ? "(closing) " : " ");
        },
        &left);
    INFO("handles still on the loop: " << left);
    REQUIRE(uv_loop_close(&loop_) == 0);
  }

 private:
  static void on_deadline(uv_timer_t* timer) { static_cast<TestLoop*>(timer->data)->expired_ = true; }

  int fds_before_;
  uv_loop_t loop_{};
  uv_timer_t deadline_{};
  bool expired_ = false;
};

// Storage for every read callback of these tests: a loop is single-threaded.
inline void alloc_read_buffer(uv_handle_t*, size_t, uv_buf_t* buf) {
  static char storage[64 * 1024];
  *buf = uv_buf_init(storage, sizeof storage);
}

// A uv_pipe_t on one descriptor, collecting what it reads until end of file.
struct PipeReader {
  uv_pipe_t pipe{};
  std::string data;
  bool eof = false;
  int error = 0;
  bool closed = true;

  void open(uv_loop_t* loop, int fd) {
    REQUIRE(uv_pipe_init(loop, &pipe, 0) == 0);
    pipe.data = this;
    closed = false;
    REQUIRE(uv_pipe_open(&pipe, fd) == 0);
  }
  void resume() { REQUIRE(uv_read_start(as_stream(&pipe), alloc_read_buffer, &PipeReader::on_read) == 0); }
  void pause() { uv_read_stop(as_stream(&pipe)); }
  void close() {
    if (!uv_is_closing(as_handle(&pipe))) {
      uv_close(as_handle(&pipe), [](uv_handle_t* h) { static_cast<PipeReader*>(h->data)->closed = true; });
    }
  }

 private:
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<PipeReader*>(stream->data);
    if (nread > 0) {
      self->data.append(buf->base, static_cast<size_t>(nread));
    } else if (nread == UV_EOF) {
      self->eof = true;
      uv_read_stop(stream);
    } else if (nread < 0) {
      self->error = static_cast<int>(nread);
      uv_read_stop(stream);
    }
  }
};

// A child's environment for the tests: enough to find programs.
inline const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

// What a child run to its end left: its stdout, stderr and wait status.
struct Outcome {
  std::string out, err;
  int status = -1;
};

// The server's ends of a spawned child's three pipes, opened the way the
// server opens them (net::ChildSession::start); stdout and stderr are read
// to end of file.
struct ChildIo {
  uv_pipe_t in{}, out{}, err{};
  bool in_closed = true, out_closed = true, err_closed = true;
  std::string out_data, err_data;
  bool out_eof = false, err_eof = false;
  int read_error = 0;

  // The handles own the descriptors from here on.
  void open(uv_loop_t* loop, wsbridge::proc::SpawnedChild& child) {
    for (auto [pipe, closed, fd] : {std::tuple{&in, &in_closed, child.stdin_fd}, std::tuple{&out, &out_closed, child.stdout_fd},
                                    std::tuple{&err, &err_closed, child.stderr_fd}}) {
      REQUIRE(uv_pipe_init(loop, pipe, 0) == 0);
      pipe->data = this;
      *closed = false;
      REQUIRE(uv_pipe_open(pipe, fd) == 0);
    }
    child.stdin_fd = child.stdout_fd = child.stderr_fd = -1;
    REQUIRE(uv_read_start(as_stream(&out), alloc_read_buffer, &ChildIo::on_read) == 0);
    REQUIRE(uv_read_start(as_stream(&err), alloc_read_buffer, &ChildIo::on_read) == 0);
  }
  // Small writes only: a pipe takes 64 KiB at once.
  void write_stdin(std::string_view text) {
    uv_buf_t buf = wsbridge::net::make_buf(text.data(), text.size());
    REQUIRE(uv_try_write(as_stream(&in), &buf, 1) == static_cast<int>(text.size()));
  }
  void close_stdin() { close_one(&in); }
  void close_all() {
    close_one(&in);
    close_one(&out);
    close_one(&err);
  }
  bool outputs_ended() const { return out_eof && err_eof; }
  bool all_closed() const { return in_closed && out_closed && err_closed; }

 private:
  void close_one(uv_pipe_t* pipe) {
    if (uv_is_closing(as_handle(pipe))) return;
    uv_close(as_handle(pipe), [](uv_handle_t* h) {
      auto* self = static_cast<ChildIo*>(h->data);
      if (h == as_handle(&self->in)) self->in_closed = true;
      if (h == as_handle(&self->out)) self->out_closed = true;
      if (h == as_handle(&self->err)) self->err_closed = true;
    });
  }
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
    auto* self = static_cast<ChildIo*>(stream->data);
    const bool is_out = stream == as_stream(&self->out);
    if (nread > 0) {
      (is_out ? self->out_data : self->err_data).append(buf->base, static_cast<size_t>(nread));
    } else if (nread < 0) {
      if (nread != UV_EOF) self->read_error = static_cast<int>(nread);
      (is_out ? self->out_eof : self->err_eof) = true;
      uv_read_stop(stream);
    }
  }
};

// "pipe:[inode]", as /proc/PID/fd/N names the pipe `fd` belongs to.
inline std::string pipe_name(int fd) {
  struct stat st {};
  REQUIRE(fstat(fd, &st) == 0);
  REQUIRE(S_ISFIFO(st.st_mode));
  return "pipe:[" + std::to_string(st.st_ino) + "]";
}

// A field of /proc/PID/status ("PPid", "SigIgn"...), "" if absent.
inline std::string proc_status_field(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.compare(0, name.size() + 1, name + ":") == 0) {
      std::size_t at = line.find_first_not_of(" \t", name.size() + 1);
      return at == std::string::npos ? std::string() : line.substr(at);
    }
  }
  return {};
}

// The signals a process ignores, from /proc/PID/status "SigIgn", leaving
// out those the C library keeps for itself (32 up to SIGRTMIN, SIGCANCEL and
// SIGSETXID in glibc): no program can use them, and glibc's posix_spawn, like
// musl's, sets them to SIG_IGN in the child on purpose, so that a signal
// meant for the parent cannot reach the child before exec (sigfillset()
// leaves them out, so POSIX_SPAWN_SETSIGDEF cannot name them).
inline std::uint64_t ignored_application_signals(pid_t pid) {
  std::uint64_t mask = std::stoull(proc_status_field(pid, "SigIgn"), nullptr, 16);
  for (int sig = 32; sig < SIGRTMIN; ++sig) mask &= ~(std::uint64_t{1} << (sig - 1));
  return mask;
}

// The state letter of /proc/PID/stat ('S', 'Z'...), or 0 if there is no
// such process.
inline char process_state(pid_t pid) {
  // Read with read(2), not a stream: a process reaped between the open and
  // the read makes the read fail with ESRCH, which libstdc++'s filebuf
  // throws as an exception; here it is what it means, "gone" (0).
  const int fd = ::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  char buffer[1024];
  const ssize_t got = ::read(fd, buffer, sizeof buffer);
  ::close(fd);
  if (got <= 0) return 0;
  const std::string text(buffer, static_cast<std::size_t>(got));
  std::size_t paren = text.rfind(')');
  if (paren == std::string::npos || paren + 2 >= text.size()) return 0;
  return text[paren + 2];
}

// True when a child of this process has exited and not been reaped; it
// stays unreaped (WNOWAIT).
inline bool has_unreaped_child() {
  siginfo_t info{};
  info.si_pid = 0;
  if (waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;  // ECHILD: no child at all
  return info.si_pid != 0;
}

// True when `pid` is not (or no longer) a child of this process: reaped.
inline bool is_reaped(pid_t pid) {
  int status = 0;
  return waitpid(pid, &status, WNOHANG) < 0 && errno == ECHILD;
}

// Reaps `pid` and returns its wait status; nothing if it did not exit within
// `seconds` (it is then killed and reaped, and the test fails).
inline std::optional<int> wait_for_exit(pid_t pid, double seconds = kWaitSeconds) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(seconds * 1000));
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return status;
    if (r < 0 && errno != EINTR) return std::nullopt;
    if (Clock::now() > deadline) {
      kill(-pid, SIGKILL);
      wsbridge::proc::reap_child(pid);
      return std::nullopt;
    }
    const timespec pause{0, 5 * 1000 * 1000};
    nanosleep(&pause, nullptr);
  }
}

// Kills and reaps a child if the test ends early (a failed REQUIRE), so no
// test leaves a process behind. release() once the test has reaped it.
class ChildGuard {
 public:
  explicit ChildGuard(pid_t pid = -1) noexcept : pid_(pid) {}
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  ~ChildGuard() {
    if (pid_ > 0) {
      kill(-pid_, SIGKILL);
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
  }
  void watch(pid_t pid) noexcept { pid_ = pid; }
  void release() noexcept { pid_ = -1; }

 private:
  pid_t pid_;
};

// Closes a descriptor the test still holds, if it does.
inline void close_fd(int& fd) {
  if (fd >= 0) ::close(fd);
  fd = -1;
}

// Runs a child that has just been started (by spawn_child or the spawner)
// to its end on a fresh loop: `check_running` first, if given, on the
// running child; then `input` on its stdin and end of file; its stdout and
// stderr read to end of file; reaped, and every handle closed.
inline Outcome run_to_end(wsbridge::proc::SpawnedChild& child, const std::string& input = "",
                          const std::function<void(const wsbridge::proc::SpawnedChild&)>& check_running = {}) {
  TestLoop loop;
  ChildGuard guard(child.pid);
  if (check_running) check_running(child);
  ChildIo io;
  io.open(loop.get(), child);
  if (!input.empty()) io.write_stdin(input);
  io.close_stdin();
  REQUIRE(loop.run_until([&] { return io.outputs_ended(); }));
  CHECK(io.read_error == 0);
  auto status = wait_for_exit(child.pid);
  REQUIRE(status);
  guard.release();
  io.close_all();
  REQUIRE(loop.run_until([&] { return io.all_closed(); }));
  loop.close_and_check();
  return {io.out_data, io.err_data, *status};
}

}  // namespace io_test
