// One spawner process (spawner.h), as the server sees it: its pid and the
// server's end of its control socket. Shared through std::shared_ptr by
// every spawn() talking to it, so the socket is closed only once no thread
// uses it any more: however many threads find the process dead or hung at
// once, none can see its descriptor number reused under it.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <memory>

namespace wsbridge::proc {

class SpawnerHelper {
 public:
  // Forks and execs the spawner. `only_thread`: at start-up, when the server
  // still has one thread, a child whose exec fails (no /proc) may run the
  // spawner in its copy of the server; forked from a multi-threaded server
  // it must not (other threads' locks are held forever there) and exits.
  // Returns 0 or an errno value.
  [[nodiscard]] static int launch(pid_t server_pid, bool only_thread, std::shared_ptr<SpawnerHelper>& out) noexcept;

  SpawnerHelper(int control_fd, pid_t pid) noexcept : control_fd_(control_fd), pid_(pid) {}
  SpawnerHelper(const SpawnerHelper&) = delete;
  SpawnerHelper& operator=(const SpawnerHelper&) = delete;
  // Ends the process if it still runs, and closes the socket.
  ~SpawnerHelper();

  int control_fd() const noexcept { return control_fd_; }
  pid_t pid() const noexcept { return pid_; }
  // Its end of the control socket is closed: the process has exited.
  bool hung_up() const noexcept;
  // Kills (SIGKILL: a stopped process too) and reaps the process. Returns
  // true for the one call that did, so that exactly one caller reports it.
  bool end() noexcept;
  bool ended() const noexcept { return ended_.load(); }

 private:
  const int control_fd_;
  const pid_t pid_;
  std::atomic<bool> ended_{false};
};

}  // namespace wsbridge::proc
