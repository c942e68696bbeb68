// spawn_floor: how many children per second this machine can start and reap
// the way a bridge must — posix_spawn of /bin/cat with three pipes (O_CLOEXEC,
// dup2'ed onto 0-2), its own process group, default signal dispositions —
// then close its stdin so it exits, and waitpid. `--inflight` children are
// kept alive at once (a server overlaps spawns on two cores too).
// `--fds=N` first opens N more close-on-exec descriptors, as a server
// holding N/5 connections has: clone copies the descriptor table and exec
// closes it again, so spawn cost grows with it (the spawn-under-load floor).
//   spawn_floor [--seconds=S] [--inflight=K] [--count=N] [--fds=N]
// Prints: RESULT workload=spawn_floor spawns_per_s=...
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <string>

extern char** environ;

namespace {

double now_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

// Starts /bin/cat and closes our ends at once: cat reads EOF and exits.
pid_t spawn_cat() {
  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) return -1;
  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, in[0], 0);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_adddup2(&actions, err[1], 2);
  sigset_t defaults, empty;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETPGROUP |
                                      POSIX_SPAWN_USEVFORK);
  char arg0[] = "/bin/cat";
  char* argv[] = {arg0, nullptr};
  pid_t pid = -1;
  int rc = posix_spawn(&pid, "/bin/cat", &actions, &attr, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  for (int fd : {in[0], in[1], out[0], out[1], err[0], err[1]}) close(fd);
  return rc == 0 ? pid : -1;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 3;
  int inflight = 4;
  long count = 1000000;
  long extra_fds = 0;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--seconds=", 0) == 0) seconds = std::atof(arg.c_str() + 10);
    else if (arg.rfind("--inflight=", 0) == 0) inflight = std::atoi(arg.c_str() + 11);
    else if (arg.rfind("--count=", 0) == 0) count = std::atol(arg.c_str() + 8);
    else if (arg.rfind("--fds=", 0) == 0) extra_fds = std::atol(arg.c_str() + 6);
    else {
      std::fprintf(stderr, "usage: spawn_floor [--seconds=S] [--inflight=K] [--count=N] [--fds=N]\n");
      return 2;
    }
  }
  for (long i = 0; i < extra_fds; ++i) {
    if (open("/dev/null", O_RDONLY | O_CLOEXEC) < 0) {
      std::fprintf(stderr, "spawn_floor: only %ld extra descriptors could be opened\n", i);
      extra_fds = i;
      break;
    }
  }
  const double start = now_seconds();
  const double until = start + seconds;
  long started = 0, reaped = 0, errors = 0;
  int alive = 0;
  while (true) {
    while (alive < inflight && started < count && now_seconds() < until) {
      ++started;
      if (spawn_cat() > 0) ++alive;
      else ++errors;
    }
    if (alive == 0) break;
    int status = 0;
    if (waitpid(-1, &status, 0) > 0) {
      --alive;
      ++reaped;
    }
  }
  const double elapsed = now_seconds() - start;
  std::printf("RESULT workload=spawn_floor spawns_per_s=%.0f reaped=%ld errors=%ld inflight=%d fds=%ld seconds=%.2f\n",
              static_cast<double>(reaped) / elapsed, reaped, errors, inflight, extra_fds, elapsed);
  return errors == 0 ? 0 : 1;
}
