// Starts a child process without holding up the event loop.
//
// A spawn holds its calling thread until the child has exec'd (CLONE_VFORK,
// in the spawner or in posix_spawn): a few hundred microseconds in which a
// loop would serve nobody. So the spawn runs on libuv's thread pool and the
// result comes back on the loop thread. Both owners of a child use this: a
// WebSocket endpoint (HttpExchange) and a CgiResponder.
//
// The launch must outlive the pool's work: its owner keeps it (and itself)
// alive until on_child_launched, and then owns whatever child it reports.
#pragma once
#include <uv.h>

#include <string>
#include <vector>

#include "proc/spawn.h"
#include "net/launch_queue.h"
#include "proc/spawner.h"

namespace wsbridge::net {

class ChildLaunch {
 public:
  class Owner {
   public:
    // On the loop thread, once: the launch's `error` is 0 and its `child`
    // holds the running child, or an errno value with nothing started.
    virtual void on_child_launched() noexcept = 0;
    // Asked on the loop thread just before the spawn is handed to the pool
    // (after any wait in the LaunchQueue): false, and nothing is started;
    // on_child_launched follows with `error` ECANCELED.
    virtual bool launch_still_wanted() noexcept { return true; }

   protected:
    ~Owner() = default;
  };

  // What to run (filled in by the owner before start()).
  std::string path;
  std::vector<std::string> argv, env;
  std::string cwd;  // empty: the server's own working directory
  // What the client sent after the request head: held here, with reading
  // paused, until there is a child to take it.
  std::string early_bytes;

  // The result, valid in on_child_launched.
  proc::SpawnedChild child;
  int error = 0;

  // Queues the spawn, behind the loop's other launches when `queue` is
  // given (null: at once); on_child_launched follows. (uv_queue_work fails
  // only for a null work callback, so this cannot fail.)
  void start(uv_loop_t* loop, proc::Spawner& spawner, Owner& owner, LaunchQueue* queue) noexcept;

 private:
  friend class LaunchQueue;
  // Hands the spawn to the pool, or a cancellation if it is not wanted.
  void run() noexcept;
  static void spawn_on_pool_thread(uv_work_t* work) noexcept;
  static void on_spawned(uv_work_t* work, int status) noexcept;

  uv_work_t work_{};
  uv_loop_t* loop_ = nullptr;
  Owner* owner_ = nullptr;
  proc::Spawner* spawner_ = nullptr;
  LaunchQueue* queue_ = nullptr;
  ChildLaunch* next_waiting_ = nullptr;  // the LaunchQueue's link
  bool cancelled_ = false;               // not wanted any more: nothing to spawn
};

}  // namespace wsbridge::net
