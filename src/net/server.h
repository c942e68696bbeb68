// The server on one libuv loop: listeners, signal handling and graceful
// shutdown. Connections do the rest.
#pragma once
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "net/listener.h"
#include "net/server_context.h"
#include "net/systemd.h"
#include "wsbridge/tls/tls_context.h"

namespace wsbridge::net {

class Server {
 public:
  Server(uv_loop_t* loop, ServerContext& context) : loop_(loop), context_(context) {}
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

  // Runs until SIGINT/SIGTERM have been handled and every connection is gone.
  void run();

 private:
  static void on_connection(uv_stream_t* listener, int status) noexcept;
  static void on_redirect_connection(uv_stream_t* listener, int status) noexcept;
  static void on_reload_signal(uv_signal_t* handle, int signum) noexcept;
  static void on_signal(uv_signal_t* handle, int signum) noexcept;
  static void on_deadline(uv_timer_t* timer) noexcept;
  static void on_status_timer(uv_timer_t* timer) noexcept;
  void report_status() noexcept;
  static void on_last_connection_closed(ServerContext& context) noexcept;
  void begin_shutdown(int signum) noexcept;
  void finish() noexcept;

  uv_loop_t* loop_;
  ServerContext& context_;
  std::vector<std::unique_ptr<uv_tcp_t>> listeners_;
  std::vector<std::unique_ptr<uv_pipe_t>> unix_listeners_;
  std::vector<std::string> unix_socket_paths_;  // removed at exit
  uv_signal_t sigint_{};
  uv_signal_t sigterm_{};
  uv_signal_t sighup_{};
  std::unique_ptr<tls::TlsContext> tls_;
  tls::TlsFiles tls_files_;
  uv_timer_t deadline_{};
  uv_timer_t status_timer_{};  // systemd STATUS= and WATCHDOG=1
  bool status_timer_started_ = false;
  bool finished_ = false;
};

}  // namespace wsbridge::net
