#include "proc/spawner_helper.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <new>

#include "proc/spawn.h"
#include "proc/spawner_process.h"

namespace wsbridge::proc {

int SpawnerHelper::launch(pid_t server_pid, bool only_thread, std::shared_ptr<SpawnerHelper>& out) noexcept {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return errno;
  // Prepared before the fork: the child may only make async-signal-safe calls.
  char pid_text[24];
  std::snprintf(pid_text, sizeof pid_text, "%d", static_cast<int>(server_pid));
  char name[] = "wsbridge-spawn";
  char flag[sizeof kSpawnerArgument];
  std::memcpy(flag, kSpawnerArgument, sizeof flag);
  char* spawner_argv[] = {name, flag, pid_text, nullptr};
  // The server keeps SIGINT/SIGTERM/SIGHUP blocked (it reads them from a
  // signalfd), and ignores SIGPIPE. Every other signal stays blocked across
  // the fork until the child has put the defaults back, so nothing of the
  // server's handling can run in it; the spawner empties its mask once it
  // has set its own dispositions (run_spawner).
  sigset_t all, previous;
  ::sigfillset(&all);
  ::pthread_sigmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal_number, &default_action, nullptr);
  }
  ::pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  if (pid < 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return err;
  }
  if (pid == 0) {
    ::close(sv[0]);
    // The control socket becomes descriptor 3, kept across exec.
    if (sv[1] == kSpawnerControlFd) {
      ::fcntl(kSpawnerControlFd, F_SETFD, 0);
    } else {
      ::dup2(sv[1], kSpawnerControlFd);
    }
    // Follows the thread that forked: the main thread at start-up, a pool
    // thread (which lives as long as the server) for a replacement.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A fresh image of this program: the spawner then holds none of the
    // server's memory (configuration, TLS private key) and is a few pages
    // for each clone to copy. Without /proc, it runs on in this copy, but
    // only if the copy has no other thread's locks to trip over.
    ::execve("/proc/self/exe", spawner_argv, environ);
    if (only_thread) run_spawner(kSpawnerControlFd, server_pid);
    ::_exit(127);
  }
  ::close(sv[1]);
  try {
    out = std::make_shared<SpawnerHelper>(sv[0], pid);
  } catch (const std::bad_alloc&) {
    // Nothing was made: the process and the socket are still ours to end.
    ::close(sv[0]);
    ::kill(pid, SIGKILL);
    reap_child(pid);
    return ENOMEM;
  }
  return 0;
}

SpawnerHelper::~SpawnerHelper() {
  end();
  ::close(control_fd_);
}

bool SpawnerHelper::hung_up() const noexcept {
  pollfd p{control_fd_, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

bool SpawnerHelper::end() noexcept {
  if (ended_.exchange(true)) return false;
  // It has nothing to flush, and a stopped process ends only this way. Its
  // pid stays ours (a zombie) until the reap, so the kill cannot reach
  // another process.
  ::kill(pid_, SIGKILL);
  reap_child(pid_);
  return true;
}

}  // namespace wsbridge::proc
