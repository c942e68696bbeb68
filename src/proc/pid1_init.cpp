#include "proc/pid1_init.h"

#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <string>

#include "log/logger.h"

namespace wsbridge::proc {
namespace {

// What a container runtime, an orchestrator or a user at a terminal sends
// to PID 1 and means for the server (tini forwards the same ones).
constexpr int kForwardedSignals[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2};

bool init_is_turned_off() noexcept {
  const char* value = std::getenv(kNoInitVariable);
  return value != nullptr && value[0] != '\0' && std::strcmp(value, "0") != 0;
}

// The signals the init waits for: the ones it forwards, and SIGCHLD.
// Blocked rather than handled: a blocked signal is queued even for PID 1
// (the kernel drops only the unblocked ones that have no handler), and
// sigwaitinfo then takes them one at a time with no handler and no race.
sigset_t signals_the_init_waits_for() noexcept {
  sigset_t set;
  sigemptyset(&set);
  for (int signal_number : kForwardedSignals) sigaddset(&set, signal_number);
  sigaddset(&set, SIGCHLD);
  return set;
}

// The status a shell (and tini) reports for a child: its exit code, or 128
// plus the number of the signal that killed it.
int exit_code_for(int status) noexcept {
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return 1;
}

// Reaps every child that has exited, orphans included. Returns true, with
// its status, once the server is among them. SIGCHLDs coalesce, so one
// wake-up may stand for many exits: reap until none is left to reap.
bool reap_exited_children(pid_t server, int& server_status) noexcept {
  bool server_exited = false;
  for (;;) {
    int status = 0;
    pid_t pid = ::waitpid(-1, &status, WNOHANG);
    if (pid < 0 && errno == EINTR) continue;
    if (pid <= 0) return server_exited;  // 0: the rest still run; ECHILD: none left
    if (pid == server) {
      server_exited = true;
      server_status = status;
    }
  }
}

[[noreturn]] void run_init(pid_t server, const sigset_t& waited) noexcept {
  ::prctl(PR_SET_NAME, "wsbridge-init");
  // Whatever PID 1 inherited beyond stdio (a runtime's socket-activation
  // descriptors, say) is the server's now; a copy held here would keep a
  // socket or pipe open after the server closed it.
  ::closefrom(3);
  for (;;) {
    siginfo_t info{};
    int signal_number = ::sigwaitinfo(&waited, &info);
    if (signal_number < 0) continue;  // EINTR (a stop and continue, say)
    if (signal_number != SIGCHLD) {
      ::kill(server, signal_number);
      continue;
    }
    int server_status = 0;
    // Exits at once: the server is reaped, so a later kill() could hit a
    // reused pid, and when PID 1 exits the kernel ends the rest of the
    // namespace (the container is over).
    if (reap_exited_children(server, server_status)) ::_exit(exit_code_for(server_status));
  }
}

// Variables that name their recipient by pid meant PID 1, which is now the
// init: point them at the server (a runtime doing socket activation for a
// container sets LISTEN_PID=1, and net/systemd checks it against getpid()).
void hand_pid_variables_to_the_server() noexcept {
  const std::string server_pid = std::to_string(::getpid());
  for (const char* name : {"LISTEN_PID", "WATCHDOG_PID"}) {
    const char* value = std::getenv(name);
    if (value != nullptr && std::strcmp(value, "1") == 0) ::setenv(name, server_pid.c_str(), /*overwrite=*/1);
  }
}

// In the server: a process group of its own, made the terminal's
// foreground group when there is a terminal (docker run -it). A Ctrl-C is
// sent by the terminal to the whole foreground group: with the init still
// in it, the server would get SIGINT twice, once from the terminal and once
// forwarded, and a second SIGINT means "exit now" rather than a graceful
// stop. tini isolates its child the same way.
void take_the_terminal() noexcept {
  ::setpgid(0, 0);
  if (::isatty(STDIN_FILENO) == 0) return;
  // tcsetpgrp from a background group raises SIGTTOU, which would stop us.
  struct sigaction ignore {}, previous {};
  ignore.sa_handler = SIG_IGN;
  ::sigaction(SIGTTOU, &ignore, &previous);
  ::tcsetpgrp(STDIN_FILENO, ::getpgrp());
  ::sigaction(SIGTTOU, &previous, nullptr);
}

}  // namespace

void become_init_if_pid1() noexcept {
  if (::getpid() != 1 || init_is_turned_off()) return;
  // Blocked before the fork, so a signal that arrives while the server is
  // being forked stays pending in the init and is forwarded, not lost.
  const sigset_t waited = signals_the_init_waits_for();
  sigset_t original_mask;
  ::sigprocmask(SIG_BLOCK, &waited, &original_mask);
  // SIGCHLD ignored (a launcher's setting survives exec) would make the
  // kernel reap the server unseen: no SIGCHLD, waitpid ECHILD, and an init
  // that outlives it with the container. The init needs the default.
  struct sigaction default_action {}, original_sigchld {};
  default_action.sa_handler = SIG_DFL;
  ::sigaction(SIGCHLD, &default_action, &original_sigchld);
  const pid_t server = ::fork();
  const int fork_error = errno;
  if (server > 0) run_init(server, waited);
  if (server == 0) take_the_terminal();
  // The server (or PID 1 itself, if the fork failed) runs with the signal
  // mask and the SIGCHLD action it started with, as without the init.
  ::sigaction(SIGCHLD, &original_sigchld, nullptr);
  ::sigprocmask(SIG_SETMASK, &original_mask, nullptr);
  if (server < 0) {
    log::write(log::LogLevel::Error, "server", "",
               std::string("Cannot start the init process (") + std::strerror(fork_error) +
                   "); running as PID 1 without it, so orphaned processes will not be reaped");
    return;
  }
  hand_pid_variables_to_the_server();
}

}  // namespace wsbridge::proc
