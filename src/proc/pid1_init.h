// A minimal init for containers, like tini or `docker run --init`, used only
// when wsbridge finds itself running as PID 1.
//
// Why: the kernel re-parents every orphan in a PID namespace to its PID 1,
// and only PID 1 can reap them. A script's `sleep 30 &`, or anything a
// child leaves running when it exits, would otherwise sit as a zombie for
// the life of the container, and ChildProcess's group check
// (`kill(-pgid, 0)`) would count those zombies as live and escalate every
// such connection to SIGKILL. PID 1 also gets no default signal actions, so
// a plain server there would have to handle every signal itself.
//
// What it does: PID 1 forks once. The child returns and runs main() as the
// server, with the signal mask it started with. The parent closes every
// descriptor but 0-2, forwards SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1
// and SIGUSR2 to the server, reaps every child (orphans included), and when
// the server ends exits with its status: the exit code, or 128 + the
// signal's number for a death by signal (as shells and tini report it).
// Anything else left in the namespace is then killed by the kernel.
//
// WSBRIDGE_NO_INIT=1 in the environment turns it off (for a container that
// already has an init, or to see the old behaviour).
#pragma once

namespace wsbridge::proc {

// The environment variable that turns the init off when set to "1".
inline constexpr const char* kNoInitVariable = "WSBRIDGE_NO_INIT";

// Call first in main(), before any descriptor, thread or child exists. Does
// nothing unless getpid() == 1. Otherwise it returns only in the process
// that is to be the server; the init itself never returns. If the fork
// fails it logs an error and returns, and the server runs without an init.
void become_init_if_pid1() noexcept;

}  // namespace wsbridge::proc
