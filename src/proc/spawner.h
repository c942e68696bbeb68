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
//   4. read the answers there: the child's own pid (written by the child
//      before its exec), then the spawner's errno value (0 on success).
// All of it within kSpawnerAnswerWait. A spawner that does not answer in
// time (stopped, stuck) is killed and reaped, and one that died is reaped;
// either way what the reply channel then still holds says whether a child
// was started, and a child that was is used, never started twice. Until a
// replacement runs, children are started in the server with posix_spawn.
// Replacements start kFirstRespawnDelay after a failure, each consecutive
// failure doubling the delay up to kMaxRespawnDelay; an answer resets it.
// A request the spawner could not take (its descriptor limit, say) is
// started in the server too, and logged.
//
// The spawner is this same program, re-executed through /proc/self/exe with
// kSpawnerArgument (spawner_process.h), so it holds none of the server's
// memory.
#pragma once
#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "proc/spawn.h"
#include "proc/spawner_process.h"  // the spawner process's entry, for main()

namespace wsbridge::proc {

class SpawnerHelper;
namespace spawner_channel {
struct AnswersSeen;
}

// How long a spawn waits for the spawner's answer. Starting a child takes
// it well under a millisecond (one clone, until the exec); its four threads
// serve as many requests at once as libuv's pool makes. The first request
// after a (re)start also waits for the spawner's own exec of this program.
// A machine so loaded that this takes longer costs a needless replacement
// and a log line, never a lost or doubled child.
inline constexpr std::chrono::milliseconds kSpawnerAnswerWait{2000};
// Delay before a replacement spawner after the first failure, and the most
// it grows to over consecutive failures: a spawner that dies or hangs each
// time costs a fork and two log lines every 30 s at most.
inline constexpr std::chrono::milliseconds kFirstRespawnDelay{100};
inline constexpr std::chrono::milliseconds kMaxRespawnDelay{30000};

class Spawner {
 public:
  Spawner() = default;
  Spawner(const Spawner&) = delete;
  Spawner& operator=(const Spawner&) = delete;
  ~Spawner();

  // Forks the spawner. Call after privileges are dropped (the spawner's
  // children inherit its credentials) and before other threads start.
  // Returns 0 or an errno value; on failure spawn() starts children in
  // process, and no replacement is tried.
  [[nodiscard]] int start(pid_t server_pid) noexcept;

  // Ends and reaps the spawner; spawn() then fails with ECANCELED rather
  // than start anything while the server exits. Idempotent; thread-safe
  // against spawn() (pool threads may still be in it at a forced exit).
  void stop() noexcept;

  // Same contract as spawn_child(). Thread-safe; blocks until the child has
  // exec'd or failed to, at most about 2 x kSpawnerAnswerWait. May start a
  // replacement spawner, which the kernel ends when the calling thread
  // ends (PR_SET_PDEATHSIG follows the thread): call it from threads that
  // live as long as the server, as libuv's pool threads do.
  [[nodiscard]] int spawn(const std::string& path, const std::vector<std::string>& argv,
                          const std::vector<std::string>& env, SpawnedChild& out,
                          const char* cwd = nullptr) noexcept;

  // The running spawner's pid, or -1 when there is none.
  pid_t pid() const noexcept { return pid_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  enum class Failure { Hung, Gone };

  // The spawner to use, starting a replacement when one is due; null when
  // the server starts children itself.
  std::shared_ptr<SpawnerHelper> current_helper() noexcept;
  // Stops using `helper`, then kills and reaps it, so that it can no longer
  // start anything. The call that retires the current spawner schedules the
  // replacement and logs why; later calls for the same one do nothing more.
  void retire(const std::shared_ptr<SpawnerHelper>& helper, Failure why, int err) noexcept;
  // Sends the request, reads the answers and, when the spawner did not
  // finish answering, retires it and reads what the child (if any) said.
  void exchange(const std::shared_ptr<SpawnerHelper>& helper, int channel, const std::string& request,
                Clock::time_point deadline, spawner_channel::AnswersSeen& seen) noexcept;
  // The spawner did not start this child: start it here, unless exiting.
  int start_here_instead(const SpawnerHelper& helper, const char* why, const std::string& path,
                         const std::vector<std::string>& argv, const std::vector<std::string>& env,
                         SpawnedChild& out, const char* cwd) noexcept;

  std::mutex mutex_;  // guards current_, next_respawn_ and server_pid_
  std::shared_ptr<SpawnerHelper> current_;
  Clock::time_point next_respawn_{};
  std::atomic<unsigned> failures_{0};  // consecutive, since the last answer
  pid_t server_pid_ = -1;              // set by a successful start(): replacements allowed
  std::atomic<pid_t> pid_{-1};         // current_'s pid, readable without the lock
  std::atomic<bool> closing_{false};
};

}  // namespace wsbridge::proc
