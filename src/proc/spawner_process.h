// The spawner process's side of spawner.h: a few threads that take requests
// off the control socket and start each child with
// clone(CLONE_VM | CLONE_VFORK | CLONE_PARENT), so the child is the server's.
#pragma once
#include <sys/types.h>

namespace wsbridge::proc {

// argv[1] of a spawner process, and the descriptor its control socket is on.
inline constexpr char kSpawnerArgument[] = "--wsbridge-internal-spawner";
inline constexpr int kSpawnerControlFd = 3;

// The spawner process's body (main() calls it when argv[1] is
// kSpawnerArgument); never returns.
[[noreturn]] void run_spawner(int control_fd, pid_t server_pid) noexcept;

}  // namespace wsbridge::proc
