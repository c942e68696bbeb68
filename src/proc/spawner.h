// A small helper process that starts the bridge's children for it.
//
// Why: the kernel's cost of starting a process grows with the caller's
// descriptor table. clone copies the table and exec then closes every
// close-on-exec entry, so a server holding 4,000 connections (20,000
// descriptors) spawns at half the rate of an idle one (docs/performance.md).
// The spawner is forked once at start-up, keeps only its control socket, and
// starts every child with CLONE_PARENT: the child is still the server's own
// child, so the server reaps it through a pidfd and signals its process
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
// it), children are started in the server itself with posix_spawn, and a
// warning says so once.
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
  // Closes the control socket (the spawner exits on its end of file) and
  // reaps the spawner.
  ~Spawner();

  // Forks the spawner. Call while the process has a single thread (fork
  // copies only the calling thread) and after privileges are dropped (the
  // spawner's children inherit its credentials). Returns 0 or an errno
  // value; on failure spawn() starts children in process.
  [[nodiscard]] int start() noexcept;

  // Same contract as spawn_child(). Thread-safe; blocks until the child has
  // exec'd or failed to.
  [[nodiscard]] int spawn(const std::string& path, const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, SpawnedChild& out,
                          const char* cwd = nullptr) noexcept;

  // The spawner's pid, or -1 when it is not running.
  pid_t pid() const noexcept { return pid_.load(); }

 private:
  // The transport failed (the spawner is gone): warn once, reap it, and stop
  // using it.
  void note_spawner_gone(int err) noexcept;

  int control_fd_ = -1;
  std::atomic<pid_t> pid_{-1};  // -1 once reaped, so no later kill hits a reused pid
  std::atomic<bool> usable_{false};
};

}  // namespace wsbridge::proc
