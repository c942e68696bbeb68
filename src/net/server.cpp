#include "net/server.h"

#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "log/logger.h"
#include "metrics/process_stats_reader.h"
#include "net/accepted_client.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;

// Graceful shutdown is bounded. The default fits close handshakes (2 s), stdin flushes (5 s) and the kill
// escalation (850 ms + 3 x closems); --shutdown-timeout overrides it.
unsigned shutdown_deadline_ms(const cli::Config& config) {
  return config.shutdown_timeout_ms != 0 ? config.shutdown_timeout_ms : 10000 + 3 * config.closems;
}

// The per-client table remembers at least as many addresses as the process
// can hold connections, so an address with one open is never forgotten.
bridge::ClientLimitSettings client_limit_settings(const cli::Config& config) {
  bridge::ClientLimitSettings settings;
  settings.max_open = static_cast<int>(config.maxconn_per_client);
  settings.rate_per_second = config.connect_rate;
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur != RLIM_INFINITY) {
    settings.capacity = std::max<std::size_t>(settings.capacity, static_cast<std::size_t>(files.rlim_cur));
  }
  return settings;
}
}  // namespace

Server::Server(uv_loop_t* loop, ServerContext& context)
    : loop_(loop),
      context_(context),
      fork_slots_(context.config->maxforks),
      client_limits_(client_limit_settings(*context.config)) {
  context_.fork_slots = &fork_slots_;
  context_.client_limits = &client_limits_;
  context_.unique_ids = &unique_ids_;
}

Server::~Server() {
  stop_workers();
  if (signal_fd_ >= 0) close(signal_fd_);
  // A worker stopped at the shutdown deadline still has connections whose
  // handles are in its loop; the process ends right after this, so they
  // stay allocated and reachable (LeakSanitizer then has nothing to say),
  // as a single loop's connections did in uv_default_loop.
  static std::vector<std::unique_ptr<Worker>>* const kept = new std::vector<std::unique_ptr<Worker>>;
  for (auto& worker : workers_) {
    if (worker->stopped_with_handles_open()) kept->push_back(std::move(worker));
  }
}

bool Server::listen(const std::vector<ListenAddress>& addresses, int port, std::string& error) {
  for (const ListenAddress& address : addresses) {
    auto handle = std::make_unique<uv_tcp_t>();
    handle->data = this;
    int err = start_listener(loop_, handle.get(), address, port, &Server::on_connection_never, error);
    if (err != 0) return false;
    listeners_.push_back(std::move(handle));
    redirect_listener_.push_back(false);
  }
  return true;
}

bool Server::listen_for_redirects(const std::vector<ListenAddress>& addresses, int port, std::string& error) {
  for (const ListenAddress& address : addresses) {
    auto handle = std::make_unique<uv_tcp_t>();
    handle->data = this;
    ListenAddress redirect = address;
    int err = start_listener(loop_, handle.get(), redirect, port, &Server::on_connection_never, error);
    if (err != 0) return false;
    listeners_.push_back(std::move(handle));
    redirect_listener_.push_back(true);
  }
  return true;
}

bool Server::listen_for_metrics(const ListenAddress& address, int port, std::string& error) {
  metrics_endpoint_ = std::make_unique<MetricsEndpoint>(loop_, [this] { return collect_metrics(); });
  return metrics_endpoint_->listen(address, port, error);
}

std::string Server::collect_metrics() const {
  metrics::Scrape scrape;
  for (const auto& worker : workers_) {
    metrics::add_to_totals(worker->metrics(), scrape.totals);
    scrape.connections_open += worker->connection_count();
  }
  scrape.log_lines_dropped = log::dropped_lines();
  scrape.process = metrics::read_process_stats();
  return metrics::render_exposition(scrape);
}

bool Server::enable_tls(const tls::TlsFiles& files, std::string& error) {
  auto tls = std::make_shared<tls::TlsContext>();
  if (!tls->load(files, error)) return false;
  tls_files_ = files;
  tls_enabled_ = true;
  shared_tls_.replace(std::move(tls));
  context_.tls_context = &shared_tls_;
  return true;
}

void Server::reload_tls() noexcept {
  // Also during start-up (the loop first runs inside start_workers): a
  // SIGHUP then was dropped unlogged, though the files may have changed
  // since they were read, e.g. a renewal hook racing a restart.
  if (!tls_enabled_) {
    log::write(LogLevel::Info, "server", "", "SIGHUP: nothing to reload (no --ssl)");
    return;
  }
  std::string error;
  // A new context is built here, on the main thread, and swapped in for
  // every worker at once. Connections keep the context they started with;
  // new ones get the new certificate. A bad file keeps the old one serving.
  try {
    auto tls = std::make_shared<tls::TlsContext>();
    if (tls->load(tls_files_, error)) {
      shared_tls_.replace(std::move(tls));
      log::write(LogLevel::Info, "server", "", "SIGHUP: reloaded TLS certificate and key");
      return;
    }
  } catch (const std::bad_alloc&) {
    error = "out of memory";
  }
  log::write(LogLevel::Error, "server", "", "SIGHUP: keeping the previous certificate: " + error);
}

bool Server::listen_unix(const std::string& path, unsigned mode, std::string& error) {
  int fd = -1;
  if (start_unix_listener(path, mode, fd, error) != 0) return false;
  unix_listener_fds_.push_back(fd);
  unix_socket_paths_.push_back(path);
  return true;
}

bool Server::adopt(const std::vector<systemd::InheritedSocket>& sockets, std::string& error) {
  for (const auto& inherited : sockets) {
    int domain = 0;
    socklen_t length = sizeof domain;
    getsockopt(inherited.fd, SOL_SOCKET, SO_DOMAIN, &domain, &length);
    if (domain == AF_UNIX) {
      // systemd owns the file: it is not removed by us. listen() again is
      // harmless on a listening socket and says early if this one is not.
      if (::listen(inherited.fd, kListenBacklog) != 0) {
        error = "socket activation: descriptor " + std::to_string(inherited.fd) + ": " +
                uv_strerror(uv_translate_sys_error(errno));
        return false;
      }
      unix_listener_fds_.push_back(inherited.fd);
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
    if (err == 0) err = uv_listen(reinterpret_cast<uv_stream_t*>(handle.get()), kListenBacklog, &Server::on_connection_never);
    if (err != 0) {
      error = "socket activation: descriptor " + std::to_string(inherited.fd) + ": " + uv_strerror(err);
      return false;
    }
    listeners_.push_back(std::move(handle));
    redirect_listener_.push_back(false);
  }
  return true;
}

void Server::on_connection_never(uv_stream_t* /*listener*/, int /*status*/) noexcept {}

bool Server::start_workers(unsigned count, std::string& error) {
  // The sockets as the kernel knows them: each worker listens on its own
  // copy. Unlike SO_REUSEPORT this needs no second bind, so it works the
  // same for systemd's sockets, Unix sockets and --redirport.
  std::vector<ListeningSocket> sockets;
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    uv_os_fd_t fd = -1;
    uv_fileno(reinterpret_cast<uv_handle_t*>(listeners_[i].get()), &fd);
    sockets.push_back({fd, false, redirect_listener_[i]});
  }
  for (int fd : unix_listener_fds_) sockets.push_back({fd, true, false});
  bool ready = true;
  for (unsigned number = 1; number <= count && ready; ++number) {
    Worker::Owner& owner = *this;
    workers_.push_back(std::make_unique<Worker>(number, context_, owner));
    ready = workers_.back()->listen(sockets, error);
  }
  // The main loop's own handles close their descriptors now; the socket
  // stays open (and listening) through the workers' copies. Closed before
  // any worker thread starts, so no thread can see these descriptor
  // numbers reused while the main thread still holds them.
  for (auto& listener : listeners_) uv_close(reinterpret_cast<uv_handle_t*>(listener.get()), nullptr);
  for (int fd : unix_listener_fds_) close(fd);
  uv_run(loop_, UV_RUN_NOWAIT);  // their close callbacks, so the handles may be freed
  listeners_.clear();
  unix_listener_fds_.clear();
  for (std::size_t i = 0; i < workers_.size() && ready; ++i) ready = workers_[i]->start(error);
  if (!ready) stop_workers();
  return ready;
}

void Server::stop_workers() noexcept {
  for (auto& worker : workers_) {
    worker->request_shutdown();
    worker->request_exit_now();
  }
  for (auto& worker : workers_) worker->join();
}

std::size_t Server::connection_count() const noexcept {
  std::size_t count = 0;
  for (const auto& worker : workers_) count += worker->connection_count();
  return count;
}

void Server::report_status() noexcept {
  systemd::notify("STATUS=" + std::to_string(connection_count()) + " connection(s), " +
                  std::to_string(fork_slots_.active()) + " child process(es)");
}

void Server::on_status_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Server*>(timer->data);
  self->report_status();
  if (systemd::watchdog_interval_usec() != 0) systemd::notify("WATCHDOG=1");
}

bool Server::catch_signals(std::string& error) noexcept {
  // SIGINT/SIGTERM mean a clean stop and SIGHUP a reload (systemctl
  // reload: it must never end the server, whose default action for it
  // would be to die with every connection). They are blocked here, in the
  // main thread before any other thread exists, so every thread (workers,
  // libuv's pool, lookup threads) inherits the mask, and the kernel keeps
  // a signal sent to the process (kill, systemd, a terminal, the PID 1
  // init) for the signalfd the main loop reads. (One sent to a single
  // worker thread with tgkill would stay pending there; nothing does that.)
  // No handler runs on a random thread: libuv's handler did, and under
  // ThreadSanitizer (which defers a signal until the thread it landed on
  // next enters libc) a SIGTERM that landed on a worker loop was sometimes
  // never handled (4 servers of 400 stopped 0.3 s after start-up kept
  // running). Children get an empty mask (proc/spawn, the spawner).
  sigset_t set;
  sigemptyset(&set);
  for (int signum : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, signum);
  sigset_t previous;
  pthread_sigmask(SIG_BLOCK, &set, &previous);
  signal_fd_ = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  int err = signal_fd_ < 0 ? uv_translate_sys_error(errno) : uv_poll_init(loop_, &signal_poll_, signal_fd_);
  if (err == 0) {
    signal_poll_.data = this;
    signal_poll_started_ = true;  // initialised, so finish() closes it
    err = uv_poll_start(&signal_poll_, UV_READABLE, &Server::on_signals_readable);
  }
  if (err != 0) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    error = std::string("cannot watch for signals: ") + uv_strerror(err);
    return false;
  }
  return true;
}

void Server::on_signals_readable(uv_poll_t* handle, int status, int /*events*/) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  if (status < 0) return;  // a signalfd has no error state of its own
  // Several may be waiting; each signal number is queued once at most.
  signalfd_siginfo info{};
  while (read(self->signal_fd_, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    self->on_signal(static_cast<int>(info.ssi_signo));
  }
}

void Server::run() {
  uv_async_init(loop_, &worker_finished_, &Server::on_worker_finished_notice);
  worker_finished_.data = this;
  {
    std::lock_guard<std::mutex> lock(workers_mutex_);
    worker_notice_open_ = true;
  }
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
  running_ = true;
  if (early_signal_ != 0) begin_shutdown(early_signal_);
  uv_run(loop_, UV_RUN_DEFAULT);
  for (auto& worker : workers_) worker->join();
}

void Server::on_signal(int signum) noexcept {
  if (signum == SIGHUP) {
    reload_tls();
    return;
  }
  if (!running_) {
    // Start-up runs the loop once (start_workers) before run() can hear
    // from finished workers: remember the signal and act on it there.
    if (early_signal_ == 0) early_signal_ = signum;
    return;
  }
  begin_shutdown(signum);
}

void Server::begin_shutdown(int signum) noexcept {
  if (shutting_down_) {
    // A second signal: stop waiting.
    log::write(LogLevel::Info, "server", "", "Second signal: exiting now");
    exit_now();
    return;
  }
  shutting_down_ = true;
  systemd::notify("STOPPING=1");
  log::write(LogLevel::Info, "server", "",
             std::string("Received ") + (signum == SIGINT ? "SIGINT" : "SIGTERM") +
                 ": closing connections and ending children");
  for (const auto& path : unix_socket_paths_) unlink(path.c_str());
  for (auto& worker : workers_) worker->request_shutdown();
  // One deadline for the whole server, however many workers share the work.
  uv_timer_init(loop_, &deadline_);
  deadline_.data = this;
  deadline_started_ = true;
  uv_timer_start(&deadline_, &Server::on_deadline, shutdown_deadline_ms(*context_.config), 0);
  uv_unref(reinterpret_cast<uv_handle_t*>(&deadline_));
}

void Server::on_deadline(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Server*>(timer->data);
  log::write(LogLevel::Error, "server", "",
             std::to_string(self->connection_count()) + " connection(s) still open at the shutdown deadline");
  self->exit_now();
}

void Server::exit_now() noexcept {
  for (auto& worker : workers_) worker->request_exit_now();
}

void Server::on_worker_finished(Worker& /*worker*/) noexcept {
  std::lock_guard<std::mutex> lock(workers_mutex_);
  ++workers_finished_;
  if (worker_notice_open_) uv_async_send(&worker_finished_);
}

void Server::on_worker_finished_notice(uv_async_t* handle) noexcept {
  auto* self = static_cast<Server*>(handle->data);
  {
    std::lock_guard<std::mutex> lock(self->workers_mutex_);
    if (self->workers_finished_ < self->workers_.size()) return;
    self->worker_notice_open_ = false;
  }
  self->finish();
}

void Server::finish() noexcept {
  if (finished_) return;
  finished_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&worker_finished_), nullptr);
  // The signals stay blocked: one that comes while the process ends waits
  // unread rather than killing it on the way out.
  if (signal_poll_started_) uv_close(reinterpret_cast<uv_handle_t*>(&signal_poll_), nullptr);
  if (status_timer_started_) uv_close(reinterpret_cast<uv_handle_t*>(&status_timer_), nullptr);
  if (deadline_started_) uv_close(reinterpret_cast<uv_handle_t*>(&deadline_), nullptr);
  if (metrics_endpoint_) metrics_endpoint_->close();
}

}  // namespace wsbridge::net
