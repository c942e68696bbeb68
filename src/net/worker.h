// One worker loop (--workers): a libuv loop on its own thread with its own
// ServerContext, connections and handles, sharing nothing with the other
// workers but what ServerContext::fork_slots, unique_ids and tls_context
// point at. Every worker listens on its own copies (dup) of the same
// listening sockets; the kernel hands each new connection to one of them,
// and a busy loop, which comes back to accept() later, takes fewer.
//
// The main thread (Server) owns the signals and tells workers what to do
// through request_shutdown() and request_exit_now(), which are safe to call
// from any thread; the worker answers through Owner::on_worker_finished().
#pragma once
#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "net/host_name_lookups.h"
#include "net/launch_queue.h"
#include "net/part_owner.h"
#include "net/room_broker.h"
#include "net/room_table.h"
#include "net/server_context.h"

namespace wsbridge::net {

// A listening socket the main thread bound (or systemd passed).
struct ListeningSocket {
  int fd = -1;
  bool unix_domain = false;    // AF_UNIX: uv_pipe_t, otherwise uv_tcp_t
  bool redirect_only = false;  // --redirport: every request gets a 301 to https
};

class Worker final : private PartOwner {
 public:
  class Owner {
   public:
    // On the worker's thread, once its loop has ended (gracefully, or
    // stopped by request_exit_now()). The worker touches nothing after it.
    virtual void on_worker_finished(Worker& worker) noexcept = 0;

   protected:
    ~Owner() = default;
  };

  // `number` counts from 1 and names the thread ("wsbridge-w1"). The worker
  // copies `prototype`: configuration and pointers to what is shared.
  Worker(unsigned number, const ServerContext& prototype, Owner& owner);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Listens on copies of `sockets` in this worker's loop (on the caller's
  // thread). False with `error` set when it could not.
  [[nodiscard]] bool listen(const std::vector<ListeningSocket>& sockets, std::string& error);
  // Starts the thread that runs the loop.
  [[nodiscard]] bool start(std::string& error);

  // Any thread: stop accepting, close every connection with 1001 and end
  // the children; the loop ends when the last connection is gone.
  void request_shutdown() noexcept;
  // Any thread: the shutdown deadline passed (or a second signal came):
  // SIGKILL the children that are left, reap them, and stop the loop.
  void request_exit_now() noexcept;
  // Any thread: open connections now, for status lines.
  std::size_t connection_count() const noexcept { return context_->connection_count.load(); }
  // Any thread: what this loop counted, for a metrics scrape.
  const metrics::LoopMetrics& metrics() const noexcept { return context_->metrics; }
  void join() noexcept;
  // After request_exit_now(): the loop was stopped with handles (and the
  // connections that own them) still open, so it must not be freed.
  bool stopped_with_handles_open() const noexcept { return exited_now_; }

 private:
  static constexpr int kShutdownRequested = 1;
  static constexpr int kExitNowRequested = 2;

  void run() noexcept;  // the thread's body
  void send_request(int request) noexcept;
  static void on_wake(uv_async_t* handle) noexcept;
  static void on_connection(uv_stream_t* listener, int status) noexcept;
  static void on_redirect_connection(uv_stream_t* listener, int status) noexcept;
  static void on_last_connection_closed(ServerContext& context) noexcept;
  void begin_shutdown() noexcept;
  void exit_now() noexcept;
  void close_wake() noexcept;

  // Both stream types start with uv_stream_t, as in ClientStream's SocketHandle.
  union ListenHandle {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_tcp_t tcp;
    uv_pipe_t pipe;
  };
  // Out of descriptors, libuv sheds a pending connection by closing a
  // reserve descriptor, accepting, and reopening it. With several loops on
  // one socket another loop's accept() can take the freed number; the
  // reserve is then lost and libuv retries accept() in a loop that never
  // yields. So on EMFILE/ENFILE a worker closes its listening handle (which
  // ends that loop), and reopens it after kAcceptPauseMs from the copy it
  // keeps aside for this, with libuv's reserve descriptor restored; while it
  // cannot be reopened, each tick drops what waits (see on_accept_pause_over).
  static constexpr unsigned kAcceptPauseMs = 100;
  static constexpr std::uint64_t kAcceptErrorLogIntervalMs = 1000;
  [[nodiscard]] int open_listener(std::size_t index) noexcept;
  // Closes the handle of listener `index`, if open, and marks it closed;
  // the worker's spare copy of the socket stays open.
  void close_listener(std::size_t index) noexcept;
  void on_accept_error(uv_stream_t* listener, int status) noexcept;
  void pause_accepting(uv_stream_t* listener, bool drop_waiting) noexcept;
  // Accepts and closes what waits on socket `index` (this worker's spare
  // copy); needs one free descriptor number. Returns the errno that ended
  // it (EAGAIN: nothing left). The second variant, for a full table, takes
  // the number from libuv's reserve or, without one, from one of this
  // worker's open listeners (reopened at the next tick).
  int drop_pending(std::size_t index) noexcept;
  void drop_pending_with_reserve(std::size_t index) noexcept;
  bool connection_waiting(std::size_t index) const noexcept;
  void close_accept_pause() noexcept;
  void close_spare_sockets() noexcept;
  static void on_accept_pause_over(uv_timer_t* timer) noexcept;
  static void on_listener_closed(uv_handle_t* handle) noexcept;
  // PartOwner: the broker's connections are closed (nothing to free: the
  // worker owns it until it is destroyed).
  void on_part_closed() noexcept override {}

  const unsigned number_;
  Owner& owner_;
  std::unique_ptr<ServerContext> context_;
  ws::SharedDeflaters deflaters_;  // this loop's (context_->deflaters)
  LaunchQueue launches_;           // this loop's (context_->launches)
  ws::InflateStatePool inflate_states_;  // this loop's (context_->inflate_states)
  // With --room-broker (context_->broker); declared before the rooms,
  // which use it, so that it outlives them.
  std::unique_ptr<RoomBroker> broker_;
  std::unique_ptr<RoomTable> rooms_;  // with --broadcast (context_->rooms)
  uv_loop_t loop_{};
  bool loop_initialized_ = false;
  // parallel: each socket (its fd is this worker's spare copy, never in a
  // handle) and its handle, null while accepting is paused or after shutdown
  std::vector<ListeningSocket> sockets_;
  std::vector<ListenHandle*> listeners_;
  uv_timer_t accept_pause_{};
  bool accept_pause_open_ = false;
  bool accept_error_said_ = false;
  std::uint64_t accept_error_said_ms_ = 0;  // uv_now of the last "Accept failed" line
  std::uint64_t accept_errors_unsaid_ = 0;  // accept errors since then, not logged
  HostNameLookups host_name_lookups_;  // opened with --reverselookup
  uv_async_t wake_{};
  // uv_async_send on a closed handle is undefined: senders hold the mutex
  // and check the flag, and the worker clears it before closing the handle.
  std::mutex wake_mutex_;
  bool wake_open_ = false;
  std::atomic<int> requests_{0};
  bool thread_started_ = false;
  bool exited_now_ = false;  // stopped with handles still open
  std::thread thread_;
};

}  // namespace wsbridge::net
