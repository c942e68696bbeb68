#include "net/server.h"

#include <signal.h>
#include <sys/wait.h>

#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "log/logger.h"
#include "net/connection.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;

// Graceful shutdown is bounded: close handshakes (2 s), stdin flushes (5 s)
// and the kill escalation (850 ms + 3 × closems) all fit in this.
// The default fits close handshakes (2 s), stdin flushes (5 s) and the kill
// escalation (850 ms + 3 x closems); --shutdown-timeout overrides it.
unsigned shutdown_deadline_ms(const cli::Config& config) {
  return config.shutdown_timeout_ms != 0 ? config.shutdown_timeout_ms : 10000 + 3 * config.closems;
}
}  // namespace

bool Server::listen(const std::vector<ListenAddress>& addresses, int port, std::string& error) {
  for (const ListenAddress& address : addresses) {
    auto handle = std::make_unique<uv_tcp_t>();
    handle->data = this;
    int err = start_listener(loop_, handle.get(), address, port, &Server::on_connection, error);
    if (err != 0) return false;
    listeners_.push_back(std::move(handle));
  }
  return true;
}

bool Server::listen_for_redirects(const std::vector<ListenAddress>& addresses, int port, std::string& error) {
  for (const ListenAddress& address : addresses) {
    auto handle = std::make_unique<uv_tcp_t>();
    handle->data = this;
    ListenAddress redirect = address;
    int err = start_listener(loop_, handle.get(), redirect, port, &Server::on_redirect_connection, error);
    if (err != 0) return false;
    listeners_.push_back(std::move(handle));
  }
  return true;
}

bool Server::enable_tls(const tls::TlsFiles& files, std::string& error) {
  tls_ = std::make_unique<tls::TlsContext>();
  if (!tls_->load(files, error)) return false;
  tls_files_ = files;
  context_.tls_context = tls_.get();
  return true;
}

void Server::on_reload_signal(uv_signal_t* handle, int /*signum*/) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  if (!self->tls_) {
    log::write(LogLevel::Info, "server", "", "SIGHUP: nothing to reload (no --ssl)");
    return;
  }
  std::string error;
  // Connections keep the context they started with; new ones get the new
  // certificate. A bad file keeps the old one serving.
  if (self->tls_->load(self->tls_files_, error)) {
    log::write(LogLevel::Info, "server", "", "SIGHUP: reloaded TLS certificate and key");
  } else {
    log::write(LogLevel::Error, "server", "", "SIGHUP: keeping the previous certificate: " + error);
  }
}

bool Server::listen_unix(const std::string& path, unsigned mode, std::string& error) {
  auto handle = std::make_unique<uv_pipe_t>();
  handle->data = this;
  if (start_unix_listener(loop_, handle.get(), path, mode, &Server::on_connection, error) != 0) return false;
  unix_listeners_.push_back(std::move(handle));
  unix_socket_paths_.push_back(path);
  return true;
}

bool Server::adopt(const std::vector<systemd::InheritedSocket>& sockets, std::string& error) {
  for (const auto& inherited : sockets) {
    int domain = 0;
    socklen_t length = sizeof domain;
    getsockopt(inherited.fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
    if (domain == AF_UNIX) {
      auto pipe = std::make_unique<uv_pipe_t>();
      pipe->data = this;
      int err = uv_pipe_init(loop_, pipe.get(), 0);
      if (err == 0) err = uv_pipe_open(pipe.get(), inherited.fd);
      if (err == 0) err = uv_listen(reinterpret_cast<uv_stream_t*>(pipe.get()), 4096, &Server::on_connection);
      if (err != 0) {
        error = "socket activation: descriptor " + std::to_string(inherited.fd) + ": " + uv_strerror(err);
        return false;
      }
      unix_listeners_.push_back(std::move(pipe));  // systemd owns the file: not removed by us
      continue;
    }
    if (domain != AF_INET && domain != AF_INET6) {
      error = "socket activation: descriptor " + std::to_string(inherited.fd) + " is neither TCP nor Unix";
      return false;
    }
    auto handle = std::make_unique<uv_tcp_t>();
    handle->data = this;
    int err = uv_tcp_init(loop_, handle.get());
    if (err == 0) err = uv_tcp_open(handle.get(), inherited.fd);
    if (err == 0) err = uv_listen(reinterpret_cast<uv_stream_t*>(handle.get()), 4096, &Server::on_connection);
    if (err != 0) {
      error = "socket activation: descriptor " + std::to_string(inherited.fd) + ": " + uv_strerror(err);
      return false;
    }
    listeners_.push_back(std::move(handle));
  }
  return true;
}

void Server::report_status() noexcept {
  systemd::notify("STATUS=" + std::to_string(context_.connection_count) + " connection(s), " +
                  std::to_string(context_.active_children) + " child process(es)");
}

void Server::on_status_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Server*>(timer->data);
  self->report_status();
  if (systemd::watchdog_interval_usec() != 0) systemd::notify("WATCHDOG=1");
}

void Server::run() {
  uv_signal_init(loop_, &sigint_);
  uv_signal_init(loop_, &sigterm_);
  sigint_.data = sigterm_.data = this;
  uv_signal_start(&sigint_, &Server::on_signal, SIGINT);
  uv_signal_start(&sigterm_, &Server::on_signal, SIGTERM);
  // SIGHUP is "reload" (systemctl reload): it must never end the server,
  // whose default action for it would be to die with every connection.
  uv_signal_init(loop_, &sighup_);
  sighup_.data = this;
  uv_signal_start(&sighup_, &Server::on_reload_signal, SIGHUP);
  context_.server = this;
  context_.on_last_connection_closed = &Server::on_last_connection_closed;
  // systemd (Type=notify): ready once every listener is up. The timer sends
  // the status line and, with WatchdogSec=, the keep-alive at half the
  // interval; it never keeps the loop alive by itself.
  systemd::notify("READY=1");
  report_status();
  std::uint64_t watchdog_usec = systemd::watchdog_interval_usec();
  std::uint64_t period_ms = watchdog_usec != 0 ? std::max<std::uint64_t>(watchdog_usec / 2000, 1) : 5000;
  uv_timer_init(loop_, &status_timer_);
  status_timer_.data = this;
  uv_timer_start(&status_timer_, &Server::on_status_timer, period_ms, period_ms);
  uv_unref(reinterpret_cast<uv_handle_t*>(&status_timer_));
  status_timer_started_ = true;
  uv_run(loop_, UV_RUN_DEFAULT);
}

void Server::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Server*>(listener->data);
  if (status != 0) {
    // EMFILE/ENFILE: libuv has already accepted and dropped the pending
    // connection using its reserve descriptor, so this does not spin.
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(status));
    return;
  }
  Connection::accept_from(listener, self->context_);
}

void Server::on_redirect_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Server*>(listener->data);
  if (status != 0) {
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(status));
    return;
  }
  Connection::accept_from(listener, self->context_, /*redirect_only=*/true);
}

void Server::on_signal(uv_signal_t* handle, int signum) noexcept {
  static_cast<Server*>(handle->data)->begin_shutdown(signum);
}

void Server::begin_shutdown(int signum) noexcept {
  if (context_.shutting_down) {
    // A second signal: stop waiting.
    log::write(LogLevel::Info, "server", "", "Second signal: exiting now");
    finish();
    return;
  }
  context_.shutting_down = true;
  systemd::notify("STOPPING=1");
  log::write(LogLevel::Info, "server", "",
             std::string("Received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": closing connections and ending children");
  for (auto& listener : listeners_) uv_close(reinterpret_cast<uv_handle_t*>(listener.get()), nullptr);
  for (auto& listener : unix_listeners_) uv_close(reinterpret_cast<uv_handle_t*>(listener.get()), nullptr);
  for (const auto& path : unix_socket_paths_) unlink(path.c_str());
  // shut_down_for_server may delete connections; step carefully.
  for (Connection* c = context_.first_connection; c != nullptr;) {
    Connection* next = c->next_;
    c->shut_down_for_server();
    c = next;
  }
  if (context_.connection_count == 0) {
    finish();
    return;
  }
  uv_timer_init(loop_, &deadline_);
  deadline_.data = this;
  uv_timer_start(&deadline_, &Server::on_deadline, shutdown_deadline_ms(*context_.config), 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&deadline_));
}

void Server::on_last_connection_closed(ServerContext& context) noexcept {
  static_cast<Server*>(context.server)->finish();
}

void Server::on_deadline(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Server*>(timer->data);
  log::write(LogLevel::Error, "server", "",
             std::to_string(self->context_.connection_count) + " connection(s) still open at the shutdown deadline");
  self->finish();
}

void Server::finish() noexcept {
  if (finished_) return;
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&sigint_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sigterm_), nullptr);
  if (status_timer_started_) uv_close(reinterpret_cast<uv_handle_t*>(&status_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sighup_), nullptr);
  if (context_.connection_count > 0) {
    // Forced exit: no child may outlive us.
    for (Connection* c = context_.first_connection; c != nullptr; c = c->next_) c->kill_child_now();
    uv_stop(loop_);
  }
}

}  // namespace wsbridge::net
