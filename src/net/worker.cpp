#include "net/worker.h"

#include <fcntl.h>
#include <pthread.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

#include "log/logger.h"
#include "net/connection.h"
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
}

Worker::~Worker() {
  join();
  // A worker that never ran (start failed) still has handles to close; one
  // stopped by exit_now() keeps them: the process is about to end anyway.
  if (!loop_initialized_ || thread_started_ || exited_now_) return;
  for (auto& listener : listeners_) uv_close(&listener->handle, nullptr);
  if (wake_open_) uv_close(as_handle(&wake_), nullptr);
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);
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
  for (const ListeningSocket& socket : sockets) {
    // Each worker's handle owns (and at shutdown closes) its own descriptor
    // for the one listening socket, so the workers never share a handle.
    int fd = fcntl(socket.fd, F_DUPFD_CLOEXEC, 3);
    if (fd < 0) {
      error = std::string("cannot copy a listening socket: ") + uv_strerror(uv_translate_sys_error(errno));
      return false;
    }
    auto listener = std::unique_ptr<ListenHandle>(new (std::nothrow) ListenHandle);
    if (!listener) {
      close(fd);
      error = "out of memory";
      return false;
    }
    if (socket.unix_domain) {
      err = uv_pipe_init(&loop_, &listener->pipe, 0);
    } else {
      err = uv_tcp_init(&loop_, &listener->tcp);
    }
    if (err != 0) {
      close(fd);
      error = std::string("cannot listen on a copy of a listening socket: ") + uv_strerror(err);
      return false;
    }
    listeners_.push_back(std::move(listener));  // initialised: the destructor closes it
    ListenHandle& handle = *listeners_.back();
    err = socket.unix_domain ? uv_pipe_open(&handle.pipe, fd) : uv_tcp_open(&handle.tcp, fd);
    if (err != 0) {
      close(fd);  // not adopted by the handle
      error = std::string("cannot listen on a copy of a listening socket: ") + uv_strerror(err);
      return false;
    }
    handle.handle.data = this;
    err = uv_listen(&handle.stream, kListenBacklog,
                    socket.redirect_only ? &Worker::on_redirect_connection : &Worker::on_connection);
    if (err != 0) {
      error = std::string("cannot listen on a copy of a listening socket: ") + uv_strerror(err);
      return false;
    }
  }
  return true;
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
    // EMFILE/ENFILE: libuv has already accepted and dropped the pending
    // connection using this loop's reserve descriptor, so this does not spin.
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(status));
    return;
  }
  Connection::accept_from(listener, *self->context_);
}

void Worker::on_redirect_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<Worker*>(listener->data);
  if (status != 0) {
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(status));
    return;
  }
  Connection::accept_from(listener, *self->context_, /*redirect_only=*/true);
}

void Worker::begin_shutdown() noexcept {
  context_->shutting_down = true;
  for (auto& listener : listeners_) uv_close(&listener->handle, nullptr);
  // shut_down_for_server may delete connections; step carefully.
  for (Connection* c = context_->first_connection; c != nullptr;) {
    Connection* next = c->next_;
    c->shut_down_for_server();
    c = next;
  }
  if (context_->connection_count == 0) close_wake();
}

void Worker::on_last_connection_closed(ServerContext& context) noexcept {
  static_cast<Worker*>(context.server)->close_wake();
}

void Worker::exit_now() noexcept {
  if (context_->connection_count == 0) {
    close_wake();  // nothing left to force
    return;
  }
  // Forced exit: no child may outlive the server.
  for (Connection* c = context_->first_connection; c != nullptr; c = c->next_) c->kill_child_now();
  exited_now_ = true;
  uv_stop(&loop_);
}

void Worker::close_wake() noexcept {
  std::lock_guard<std::mutex> lock(wake_mutex_);
  if (!wake_open_) return;
  wake_open_ = false;
  uv_close(as_handle(&wake_), nullptr);
}

}  // namespace wsbridge::net
