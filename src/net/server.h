// The server: binds the listeners once, starts the worker loops (--workers)
// that serve them, and stays on the main thread's loop for what is
// process-wide: signals (graceful shutdown, SIGHUP reload), the shutdown
// deadline and systemd's status line. Connections live in the workers.
#pragma once
#include <uv.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/metrics_endpoint.h"
#include "net/server_context.h"
#include "net/shared_state.h"
#include "net/systemd.h"
#include "net/worker.h"
#include "wsbridge/tls/tls_context.h"

namespace wsbridge::net {

class Server final : private Worker::Owner {
 public:
  // `context` (configuration filled in) is the prototype every worker
  // copies; the server points it at the state workers share.
  Server(uv_loop_t* loop, ServerContext& context);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds every address; on failure returns false with `error` set and
  // nothing listening.
  bool listen(const std::vector<ListenAddress>& addresses, int port, std::string& error);

  // --redirport: plain-HTTP listeners whose every request is redirected to
  // the https URL of the main port.
  bool listen_for_redirects(const std::vector<ListenAddress>& addresses, int port, std::string& error);

  // --unixsocket: also listens on a Unix domain socket; the file is removed
  // again when the server stops.
  bool listen_unix(const std::string& path, unsigned mode, std::string& error);

  // Socket activation: listens on descriptors systemd passed instead of binding.
  bool adopt(const std::vector<systemd::InheritedSocket>& sockets, std::string& error);

  // --ssl: loads the certificate and key now (and again on SIGHUP).
  bool enable_tls(const tls::TlsFiles& files, std::string& error);

  // Starts `count` worker loops on every listener bound so far. False with
  // `error` set when one could not start (the others are stopped again).
  [[nodiscard]] bool start_workers(unsigned count, std::string& error);

  // --metrics: answers GET /metrics on `address`:`port`, from the main loop.
  bool listen_for_metrics(const ListenAddress& address, int port, std::string& error);

  // Takes over SIGINT/SIGTERM (clean shutdown) and SIGHUP (reload); call
  // before listening and before any thread starts. Signals that arrive early
  // are acted on in run(). False with `error` set when they cannot be.
  [[nodiscard]] bool catch_signals(std::string& error) noexcept;
  // Runs until SIGINT/SIGTERM have been handled and every worker is done.
  void run();

 private:
  // The main loop's listening handles exist only to bind (start_listener
  // does that in libuv's words); workers accept on copies, and these are
  // closed before the main loop ever runs, so this is never called.
  static void on_connection_never(uv_stream_t* listener, int status) noexcept;
  static void on_signals_readable(uv_poll_t* handle, int status, int events) noexcept;
  void on_signal(int signum) noexcept;
  void reload_tls() noexcept;
  static void on_deadline(uv_timer_t* timer) noexcept;
  static void on_status_timer(uv_timer_t* timer) noexcept;
  static void on_worker_finished_notice(uv_async_t* handle) noexcept;
  void on_worker_finished(Worker& worker) noexcept override;  // on the worker's thread
  void report_status() noexcept;
  std::size_t connection_count() const noexcept;
  std::string collect_metrics() const;
  void begin_shutdown(int signum) noexcept;
  void exit_now() noexcept;
  void finish() noexcept;
  void stop_workers() noexcept;

  uv_loop_t* loop_;
  ServerContext& context_;
  // Shared by every worker (context_ points at them; see shared_state.h).
  ForkSlots fork_slots_;
  bridge::ClientLimits client_limits_;
  UniqueIds unique_ids_;
  SharedTls shared_tls_;

  std::vector<std::unique_ptr<uv_tcp_t>> listeners_;
  // Unix sockets as plain descriptors (closing a bound uv_pipe_t would
  // unlink its file); closed once the workers have their copies.
  std::vector<int> unix_listener_fds_;
  std::vector<bool> redirect_listener_;  // parallel to listeners_
  std::vector<std::string> unix_socket_paths_;  // removed at exit
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<MetricsEndpoint> metrics_endpoint_;  // with --metrics
  // SIGINT, SIGTERM and SIGHUP, blocked in every thread and read here.
  int signal_fd_ = -1;
  uv_poll_t signal_poll_{};
  bool signal_poll_started_ = false;
  tls::TlsFiles tls_files_;
  bool tls_enabled_ = false;
  uv_timer_t deadline_{};
  bool deadline_started_ = false;
  uv_timer_t status_timer_{};  // systemd STATUS= and WATCHDOG=1
  bool status_timer_started_ = false;
  // Workers report their end through this; it is closed only once all have
  // (under the mutex, which senders hold too), so no send hits a closed handle.
  uv_async_t worker_finished_{};
  std::mutex workers_mutex_;
  std::size_t workers_finished_ = 0;
  bool worker_notice_open_ = false;
  bool shutting_down_ = false;
  bool running_ = false;  // run() has started the loop for good
  int early_signal_ = 0;  // SIGINT/SIGTERM that came during start-up
  bool finished_ = false;
};

}  // namespace wsbridge::net
