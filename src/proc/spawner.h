// A small helper process that starts the bridge's children for it.
//
// Why: the kernel's cost of starting a process grows with the caller's
// descriptor table. clone copies the table and exec then closes every
// close-on-exec entry, so a server holding 4,000 connections (20,000
// descriptors) spawns at half the rate of an idle one (docs/performance.md).
// The spawner is forked once at start-up, keeps only its control socket, and
// starts every child with CLONE_PARENT: the child is still the server's own
// child, so the server reaps it (ChildReaper) and signals its process
// group exactly as it does for a child it started itself.
//
// One spawn, seen from the server (any thread; the control socket is shared):
//   1. make the three pipes and a private socket pair for the answer;
//   2. send one SOCK_SEQPACKET message on the control socket holding four
//      descriptors: the far end of the private pair and the child's ends of
//      stdin, stdout and stderr;
//   3. write the request (path, argv, env, cwd) on the private pair, a
//      stream, so its size is not bounded by a datagram;
//   4. read the answer there: an errno value (0 on success) and the pid.
// When the spawner is not running (it could not start, or someone killed
// it), children are started in the server itself with posix_spawn, and an
// error line says so once. A request the spawner could not take (its
// descriptor limit, say) is started in the server too, and logged.
//
// The spawner is this same program, re-executed through /proc/self/exe with
// kSpawnerArgument, so it holds none of the server's memory.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <string>
#include <vector>

#include "proc/spawn.h"

namespace wsbridge::proc {

class Spawner {
 public:
  Spawner() = default;
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;
  ~Spawner();

  // Forks the spawner. Call after privileges are dropped (the spawner's
  // children inherit its credentials) and before other threads start.
  // Returns 0 or an errno value; on failure spawn() starts children in
  // process.
  [[nodiscard]] int start(pid_t server_pid) noexcept;

  // Ends and reaps the spawner; spawn() then fails with ECANCELED rather
  // than start anything while the server exits. Idempotent; thread-safe
  // against spawn() (pool threads may still be in it at a forced exit).
  void stop() noexcept;

  // Same contract as spawn_child(). Thread-safe; blocks until the child has
  // exec'd or failed to.
  [[nodiscard]] int spawn(const std::string& path, const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, SpawnedChild& out,
                          const char* cwd = nullptr) noexcept;

  // The spawner's pid, or -1 when it is not running.
  pid_t pid() const noexcept { return pid_.load(); }

 private:
  // The spawner's end of the control socket is closed: it has exited.
  bool spawner_hung_up() const noexcept;
  // The spawner is gone: say so once, reap it, and stop using it.
  void note_spawner_gone(int err) noexcept;
  // The spawner did not start this child: start it here, unless exiting.
  int start_here_instead(const char* why, const std::string& path, const std::vector<std::string>& argv,
                         const std::vector<std::string>& env, SpawnedChild& out, const char* cwd) noexcept;

  int control_fd_ = -1;
  std::atomic<pid_t> pid_{-1};  // -1 once reaped, so no later kill hits a reused pid
  std::atomic<bool> usable_{false};
  std::atomic<bool> closing_{false};
};

// argv[1] of a spawner process, and the descriptor its control socket is on.
inline constexpr char kSpawnerArgument[] = "--wsbridge-internal-spawner";
inline constexpr int kSpawnerControlFd = 3;

// The spawner process's body (main() calls it when argv[1] is
// kSpawnerArgument); never returns.
[[noreturn]] void run_spawner(int control_fd, pid_t server_pid) noexcept;

}  // namespace wsbridge::proc
