#include "net/worker.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

#include "log/logger.h"
#include "net/accepted_client.h"
#include "net/listener.h"
#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;
}  // namespace

Worker::Worker(unsigned number, const ServerContext& prototype, Owner& owner)
    : number_(number), owner_(owner), context_(std::make_unique<ServerContext>(prototype)) {
  context_->server = this;
  context_->on_last_connection_closed = &Worker::on_last_connection_closed;
  context_->deflaters = &deflaters_;
  context_->launches = &launches_;
  context_->inflate_states = &inflate_states_;
  if (context_->config != nullptr && context_->config->broadcast) {
    rooms_ = std::make_unique<RoomTable>(*context_);
    context_->rooms = rooms_.get();
  }
}

Worker::~Worker() {
  join();
  // Rooms left after exit_now() still have handles in the loop, which is
  // not run again: leave them, as the connections are left.
  if (exited_now_) (void)rooms_.release();
  // A worker that never ran (start failed) still has handles to close; one
  // stopped by exit_now() keeps them: the process is about to end anyway.
  if (!loop_initialized_ || thread_started_ || exited_now_) return;
  for (std::size_t i = 0; i < listeners_.size(); ++i) close_listener(i);
  if (accept_pause_open_) uv_close(as_handle(&accept_pause_), nullptr);
  if (wake_open_) uv_close(as_handle(&wake_), nullptr);
  host_name_lookups_.close();
  if (broker_) broker_->close();
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
  close_spare_sockets();
}

void Worker::close_spare_sockets() noexcept {
  for (ListeningSocket& socket : sockets_) {
    if (socket.fd >= 0) close(socket.fd);
    socket.fd = -1;
  }
}

bool Worker::listen(const std::vector<ListeningSocket>& sockets, std::string& error) {
  int err = uv_loop_init(&loop_);
  if (err != 0) {
    error = std::string("cannot create an event loop: ") + uv_strerror(err);
    return false;
  }
  loop_initialized_ = true;
  err = uv_async_init(&loop_, &wake_, &Worker::on_wake);
  if (err != 0) {
    error = std::string("cannot create an event loop: ") + uv_strerror(err);
    return false;
  }
  wake_.data = this;
  wake_open_ = true;
  err = uv_timer_init(&loop_, &accept_pause_);
  if (err != 0) {
    error = std::string("cannot create an event loop: ") + uv_strerror(err);
    return false;
  }
  accept_pause_.data = this;
  accept_pause_open_ = true;
  if (!context_->config->room_broker_host.empty()) {
    const cli::Config& config = *context_->config;
    broker_ = std::make_unique<RoomBroker>(static_cast<PartOwner&>(*this), config.room_broker_host, config.room_broker_port,
                                           config.room_broker_db, context_->metrics.room_broker_reconnects);
    broker_->start(&loop_);
    context_->broker = broker_.get();
  }
  if (context_->config->reverselookup) {
    err = host_name_lookups_.open(&loop_);
    if (err != 0) {
      error = std::string("cannot create an event loop: ") + uv_strerror(err);
      return false;
    }
    context_->host_name_lookups = &host_name_lookups_;
  }
  for (const ListeningSocket& socket : sockets) {
    // This worker's own copy of the listening socket, kept aside: handles
    // get copies of it, so a paused handle can be reopened (see worker.h).
    ListeningSocket own = socket;
    own.fd = fcntl(socket.fd, F_DUPFD_CLOEXEC, 3);
    if (own.fd < 0) {
      error = std::string("cannot copy a listening socket: ") + uv_strerror(uv_translate_sys_error(errno));
      return false;
    }
    sockets_.push_back(own);
    listeners_.push_back(nullptr);
    err = open_listener(sockets_.size() - 1);
    if (err != 0) {
      error = std::string("cannot listen on a copy of a listening socket: ") + uv_strerror(err);
      return false;
    }
  }
  return true;
}

int Worker::open_listener(std::size_t index) noexcept {
  const ListeningSocket& socket = sockets_[index];
  int fd = fcntl(socket.fd, F_DUPFD_CLOEXEC, 3);
  if (fd < 0) return uv_translate_sys_error(errno);
  auto* listener = new (std::nothrow) ListenHandle;
  if (listener == nullptr) {
    close(fd);
    return UV_ENOMEM;
  }
  int err = socket.unix_domain ? uv_pipe_init(&loop_, &listener->pipe, 0) : uv_tcp_init(&loop_, &listener->tcp);
  if (err != 0) {
    close(fd);
    delete listener;
    return err;
  }
  listener->handle.data = this;
  listeners_[index] = listener;  // initialised: closed with the others from now on
  err = socket.unix_domain ? uv_pipe_open(&listener->pipe, fd) : uv_tcp_open(&listener->tcp, fd);
  if (err != 0) {
    close(fd);  // not adopted by the handle
    return err;
  }
  return uv_listen(&listener->stream, kListenBacklog,
                   socket.redirect_only ? &Worker::on_redirect_connection : &Worker::on_connection);
}

void Worker::close_listener(std::size_t index) noexcept {
  if (listeners_[index] == nullptr) return;
  // uv_close closes the descriptor at once; the handle is freed in its
  // close callback.
  uv_close(&listeners_[index]->handle, &Worker::on_listener_closed);
  listeners_[index] = nullptr;
}

void Worker::on_listener_closed(uv_handle_t* handle) noexcept {
  delete reinterpret_cast<ListenHandle*>(handle);
}

void Worker::pause_accepting(uv_stream_t* listener, bool drop_waiting) noexcept {
  for (std::size_t i = 0; i < listeners_.size(); ++i) {
    if (listeners_[i] == nullptr || &listeners_[i]->stream != listener) continue;
    // uv_close closes the handle's descriptor at once: with the one number
    // that frees, what is pending now is accepted and dropped (libuv's
    // trick, done here because its own reserve may be gone), so clients
    // hear at once rather than wait in the backlog.
    close_listener(i);
    if (drop_waiting) drop_pending(i);
  }
  if (!uv_is_active(as_handle(&accept_pause_))) {
    uv_timer_start(&accept_pause_, &Worker::on_accept_pause_over, kAcceptPauseMs, 0);
  }
}

int Worker::drop_pending(std::size_t index) noexcept {
  // Bounded: a client connecting faster than accept-and-close must not
  // hold the loop here. What is left waits for the next tick.
  for (int dropped = 0; dropped < kListenBacklog;) {
    int pending = accept4(sockets_[index].fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (pending >= 0) {
      close(pending);
      ++dropped;
    } else if (errno != ECONNABORTED && errno != EINTR) {
      return errno;  // EAGAIN: nothing left; EMFILE: no number free after all
    }
  }
  return EAGAIN;
}

bool Worker::connection_waiting(std::size_t index) const noexcept {
  pollfd waiting{sockets_[index].fd, POLLIN, 0};
  return ::poll(&waiting, 1, 0) == 1 && (waiting.revents & POLLIN) != 0;
}

void Worker::drop_pending_with_reserve(std::size_t index) noexcept {
  // Lent only when needed: each time the reserve's number is free another
  // thread may take it for good, leaving this loop nothing to shed with.
  if (!connection_waiting(index)) return;
  if (loop_.emfile_fd != -1) {
    close(loop_.emfile_fd);  // reopened by the caller, after every listener
    loop_.emfile_fd = -1;
  }
  const int err = drop_pending(index);
  if (err != EMFILE && err != ENFILE) return;
  // No number free and no reserve: borrow one of this worker's open
  // listeners (it is reopened with the others at the next tick).
  for (std::size_t j = 0; j < listeners_.size(); ++j) {
    if (listeners_[j] == nullptr) continue;
    close_listener(j);
    drop_pending(j);
    drop_pending(index);
    return;
  }
}

void Worker::on_accept_pause_over(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Worker*>(timer->data);
  if (self->context_->shutting_down) return;
  // Listeners first, libuv's reserve descriptor (uv_loop_t's emfile_fd,
  // opened the same way in uv__stream_init) second. The other order once
  // wedged two workers for good: both timers fired together, each reserve
  // took one of the last two free numbers, neither listener could be
  // reopened, and clients waited in the backlog unanswered (seen in CI).
  // Now every tick either listens again or drops what is waiting: a
  // listener that cannot be reopened lends the reserve's number to accept
  // and close its pending connections, and one reopened without a reserve
  // sheds through pause_accepting at its first EMFILE.
  bool all_open = true;
  for (std::size_t i = 0; i < self->listeners_.size(); ++i) {
    if (self->listeners_[i] != nullptr) continue;
    if (self->open_listener(i) == 0) continue;
    self->close_listener(i);  // half-opened: opened but not listening
    self->drop_pending_with_reserve(i);
    all_open = false;
  }
  // Lost to another loop's accept(), or lent above: restore it, so this
  // loop sheds connections itself rather than leaving them queued.
  if (self->loop_.emfile_fd == -1) self->loop_.emfile_fd = open("/", O_RDONLY | O_CLOEXEC);
  if (!all_open || self->loop_.emfile_fd == -1) {
    uv_timer_start(timer, &Worker::on_accept_pause_over, kAcceptPauseMs, 0);
  }
}

bool Worker::start(std::string& error) {
  try {
    thread_ = std::thread(&Worker::run, this);
  } catch (const std::system_error& e) {
    error = std::string("cannot start a worker thread: ") + e.what();
    return false;
  }
  thread_started_ = true;
  return true;
}

void Worker::run() noexcept {
  // Named so operators (top -H, /proc/PID/task/*/comm) and tests can tell
  // the loops apart; the kernel allows 15 characters.
  const std::string name = "wsbridge-w" + std::to_string(number_);
  pthread_setname_np(pthread_self(), name.c_str());
  uv_run(&loop_, UV_RUN_DEFAULT);
  if (!exited_now_) {
    // Every handle is closed by now; a non-zero result would be a leak, and
    // there is nobody better placed to report it.
    int err = uv_loop_close(&loop_);
    if (err != 0) log::write(LogLevel::Error, "server", "", name + ": loop still has handles at exit");
  }
  owner_.on_worker_finished(*this);
}

void Worker::join() noexcept {
  if (thread_.joinable()) thread_.join();
}

// ------------------------------------------------------------ from any thread

void Worker::request_shutdown() noexcept { send_request(kShutdownRequested); }
void Worker::request_exit_now() noexcept { send_request(kExitNowRequested); }

void Worker::send_request(int request) noexcept {
  requests_.fetch_or(request, std::memory_order_release);
  std::lock_guard<std::mutex> lock(wake_mutex_);
  if (wake_open_) uv_async_send(&wake_);
}

// ------------------------------------------------------- on the worker's loop

void Worker::on_wake(uv_async_t* handle) noexcept {
  auto* self = static_cast<Worker*>(handle->data);
  const int requests = self->requests_.exchange(0, std::memory_order_acquire);
  if ((requests & kShutdownRequested) != 0 && !self->context_->shutting_down) self->begin_shutdown();
  if ((requests & kExitNowRequested) != 0) self->exit_now();
}

void Worker::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Worker*>(listener->data);
  if (status != 0) {
    self->on_accept_error(listener, status);
    return;
  }
  AcceptedClient::accept_from(listener, *self->context_);
}

void Worker::on_redirect_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Worker*>(listener->data);
  if (status != 0) {
    self->on_accept_error(listener, status);
    return;
  }
  AcceptedClient::accept_from(listener, *self->context_, /*redirect_only=*/true);
}

void Worker::on_accept_error(uv_stream_t* listener, int status) noexcept {
  // While out of descriptors this comes ten times a second per worker: say
  // it at most once a second, with how often it was left unsaid.
  const std::uint64_t now = uv_now(&loop_);
  if (!accept_error_said_ || now - accept_error_said_ms_ >= kAcceptErrorLogIntervalMs) {
    std::string line = std::string("Accept failed: ") + uv_strerror(status);
    if (accept_errors_unsaid_ > 0) {
      line += " (" + std::to_string(accept_errors_unsaid_) + " more since the last such line)";
    }
    log::write(LogLevel::Error, "server", "", line);
    accept_error_said_ = true;
    accept_error_said_ms_ = now;
    accept_errors_unsaid_ = 0;
  } else {
    ++accept_errors_unsaid_;
  }
  // libuv calls this with EMFILE/ENFILE when its reserve descriptor could
  // not shed the connection, and with any other error accept() returns
  // (ECONNABORTED aside); it then calls accept() again at once, so an error
  // that persists (ENOMEM, ENOBUFS) would spin. Pause instead. Only when
  // out of descriptors is what waits dropped: another error (EPERM from a
  // security module, say) may concern one client, not those behind it.
  pause_accepting(listener, status == UV_EMFILE || status == UV_ENFILE);
}

void Worker::begin_shutdown() noexcept {
  context_->shutting_down = true;
  for (std::size_t i = 0; i < listeners_.size(); ++i) close_listener(i);
  close_spare_sockets();  // the socket closes with the last worker's copies
  close_accept_pause();
  // shut_down_for_server may delete connections; step carefully.
  for (AcceptedClient* c = context_->first_client; c != nullptr;) {
    AcceptedClient* next = c->next_;
    c->shut_down_for_server();
    c = next;
  }
  if (rooms_) rooms_->shut_down_for_server();
  // Rooms still running fence themselves: without renewals their programs
  // end before their leases can pass to another instance.
  if (broker_) broker_->close();
  if (context_->connection_count == 0) close_wake();
}

void Worker::on_last_connection_closed(ServerContext& context) noexcept {
  static_cast<Worker*>(context.server)->close_wake();
}

void Worker::exit_now() noexcept {
  if (rooms_) rooms_->kill_all_now();
  if (context_->connection_count == 0) {
    close_wake();  // nothing left to force
    return;
  }
  // Forced exit: no child may outlive the server.
  for (AcceptedClient* c = context_->first_client; c != nullptr; c = c->next_) c->kill_child_now();
  exited_now_ = true;
  uv_stop(&loop_);
}

void Worker::close_accept_pause() noexcept {
  if (!accept_pause_open_) return;
  accept_pause_open_ = false;
  uv_close(as_handle(&accept_pause_), nullptr);
}

void Worker::close_wake() noexcept {
  // The last connection is gone, so no lookup is wanted any more.
  host_name_lookups_.close();
  std::lock_guard<std::mutex> lock(wake_mutex_);
  if (!wake_open_) return;
  wake_open_ = false;
  uv_close(as_handle(&wake_), nullptr);
}

}  // namespace wsbridge::net
