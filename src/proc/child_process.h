// One child's life after spawn, as an explicit state machine driven by its
// exit (reported by the ChildReaper) and one timer (the kill escalation):
//
//   Running --begin_termination()--> Terminating --exit seen--> Exited
//      \------------------exit seen----------------------------/
//
// Termination follows websocketd's timings: the owner closes stdin first,
// then SIGINT after 100 ms, SIGTERM 250 ms later, SIGKILL 500 ms later, each
// delay plus --closems. Signals go to the child's whole process group, so
// grandchildren do not outlive the connection. The child is always reaped.
#pragma once
#include <sys/types.h>
#include <uv.h>

#include <cstdint>

#include "proc/child_reaper.h"

namespace wsbridge::proc {

class ChildProcess final : private ChildReaper::Listener {
 public:
  class Owner {
   public:
    // The direct child has exited and been reaped; wait_status as from waitpid.
    virtual void on_child_exited(int wait_status) noexcept = 0;
    // The timer is closed; the ChildProcess may be destroyed now.
    virtual void on_child_closed() noexcept = 0;
    // The child's stdin could not be flushed within kStdinFlushTimeoutMs of
    // begin_termination (the child stopped reading): the owner must close
    // stdin now, dropping what is left, and call note_stdin_closed().
    virtual void on_stdin_flush_timeout() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  ChildProcess() = default;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // A child never reported (a forced exit) is no longer watched.
  ~ChildProcess();

  // Starts watching `pid`, a child of this process, for its exit. Returns
  // 0, or the libuv error that kept it from being watched: the child is then
  // killed (with its group) and its end polled, so the owner still gets
  // on_child_exited and on_child_closed as for any child.
  [[nodiscard]] int watch(uv_loop_t* loop, pid_t pid, Owner* owner) noexcept;

  // A child gets this long to read what the client sent before it is told
  // to stop; a child that stopped reading cannot hold the connection forever.
  static constexpr unsigned kStdinFlushTimeoutMs = 5000;
  // How often a child that could not be watched is checked for its
  // exit after it was killed (a SIGKILLed process is gone within a few).
  static constexpr unsigned kUnwatchedReapIntervalMs = 10;

  // Starts ending the child. When stdin is still open (its queued data being
  // flushed) the escalation waits for note_stdin_closed(), at most
  // kStdinFlushTimeoutMs. Idempotent. If the child has exited and nothing
  // else is left in its process group, no signal is sent.
  void begin_termination(unsigned closems, bool stdin_closed) noexcept;
  // The owner closed the child's stdin: the escalation clock starts.
  void note_stdin_closed() noexcept;

  // Closes the handles once the child has been reaped and the escalation is
  // over; on_child_closed follows. Safe to call repeatedly.
  void close_when_done() noexcept;

  pid_t pid() const noexcept { return pid_; }
  bool exited() const noexcept { return exited_; }

 private:
  static void on_escalation_timer(uv_timer_t* handle) noexcept;
  static void on_timer_closed(uv_handle_t* handle) noexcept;
  static void on_unwatched_reap_timer(uv_timer_t* handle) noexcept;
  void end_unwatched_child(int err) noexcept;
  void start_timer(uv_timer_cb callback, std::uint64_t delay_ms, std::uint64_t repeat_ms) noexcept;
  // ChildReaper::Listener
  void on_child_reaped(int wait_status) noexcept override;
  void schedule_next_step() noexcept;
  bool group_is_empty() const noexcept;
  void maybe_close() noexcept;

  Owner* owner_ = nullptr;
  uv_timer_t timer_{};
  pid_t pid_ = -1;
  unsigned closems_ = 0;
  std::uint8_t step_ = 0;   // next escalation step: 0 SIGINT, 1 SIGTERM, 2 SIGKILL, 3 report
  bool watched_ = false;    // an exit report is still to come
  bool exited_ = false;
  bool terminating_ = false;
  bool waiting_for_stdin_ = false;
  bool escalation_done_ = false;
  bool close_requested_ = false;
  bool closing_ = false;
};

}  // namespace wsbridge::proc
