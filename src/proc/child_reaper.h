// Reaps every child of this process from one thread and hands each exit to
// the loop that watches that child.
//
// Why not a pidfd per child: it is one more descriptor per connection (a
// socket, three pipes and a pidfd made five; websocketd holds four), and the
// descriptor limit is what bounds how many connections a process holds.
// Why not libuv's SIGCHLD handling: it runs one waitpid per live child on
// every signal (design rule 13). Why not a signal at all: a handler runs on
// whichever thread the kernel picks (ThreadSanitizer defers it until that
// thread next enters libc), and a signalfd needs SIGCHLD blocked in every
// thread before any starts, tests included. A thread blocked in
// waitpid(-1) sees each exit at once and needs neither.
//
// The thread reaps one exit per call, so an exit never waits behind a
// live child. An exit goes to the pid's watcher through its loop's mailbox
// (a uv_async and a queue under the reaper's mutex) and is delivered there
// on the loop thread. An exit nobody watches yet (a child that ended
// between its spawn and watch(), which runs a loop turn later) is kept for
// watch(); reap_child() (a pid reaped by hand) forgets it. So every child
// of this process is reaped by this thread once it has started: a caller
// of waitpid(pid) may see ECHILD, and must treat that as "already reaped".
#pragma once
#include <sys/types.h>
#include <uv.h>

namespace wsbridge::proc {

class ChildReaper {
 public:
  class Listener {
   public:
    // On the watching loop's thread: the child has exited and is reaped
    // (wait_status as from waitpid). Called once; the watch is over.
    virtual void on_child_reaped(int wait_status) noexcept = 0;

   protected:
    ~Listener() = default;
  };

  // On `loop`'s thread: tells `listener` of `pid`'s exit on a later turn of
  // the loop, never from inside this call. Starts the reaping thread on first
  // use. Returns 0 or a libuv error (the loop's mailbox could not be made).
  [[nodiscard]] static int watch(uv_loop_t* loop, pid_t pid, Listener* listener) noexcept;
  // On the watching loop's thread: no exit will be reported for `pid` (its
  // watcher is going away). Harmless when it is not watched.
  static void unwatch(pid_t pid) noexcept;
  // Any thread, once a child has been created (by any launcher): the
  // reaping thread, idle for want of children, waits for one again.
  static void note_child_started() noexcept;
  // Any thread: `pid` was reaped by its starter (a failed exec, a discarded
  // child, the spawner); an exit kept for it is dropped.
  static void forget(pid_t pid) noexcept;
};

}  // namespace wsbridge::proc
