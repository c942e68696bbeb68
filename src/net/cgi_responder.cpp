#include "net/cgi_responder.h"

#include <signal.h>
#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/child_pipes.h"
#include "net/uv_cast.h"
#include "proc/spawn.h"
#include "proc/spawner.h"
#include "wsbridge/http/response.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;

std::string folder_of(const std::string& path) {
  const std::size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : path.substr(0, slash);
}

}  // namespace

CgiResponder::CgiResponder(ServerContext& context, ResponseSink& sink, Owner& owner, std::string log_fields) noexcept
    : context_(context), sink_(sink), owner_(owner), log_fields_(std::move(log_fields)) {}

int CgiResponder::start(uv_loop_t* loop, const std::string& script, std::vector<std::string> env,
                        std::uint64_t body_length, bool head_request, std::string_view early_body) noexcept {
  head_request_ = head_request;
  body_remaining_ = body_length;
  auto launch = std::unique_ptr<ChildLaunch>(new (std::nothrow) ChildLaunch);
  try {
    if (!launch) throw std::bad_alloc();
    // The script runs in its own folder, as RFC 3875 §7.2 suggests and Go's
    // net/http/cgi (websocketd's) does, with argv = [script].
    launch->path = script;
    launch->argv = {script};
    launch->env = std::move(env);
    launch->cwd = folder_of(script);
    launch->early_bytes.assign(early_body);
  } catch (...) {
    return ENOMEM;
  }
  launch->start(loop, *context_.spawner, *this);
  launch_ = std::move(launch);
  // From here the responder has a handle open and reports closed once.
  uv_timer_init(loop, &idle_timer_);
  idle_timer_.data = this;
  ++open_handles_;
  timer_closed_ = false;
  // Nothing can take more of the body until the script exists.
  body_paused_ = true;
  owner_.pause_request_body();
  return 0;
}

void CgiResponder::on_child_launched() noexcept {
  std::unique_ptr<ChildLaunch> launch = std::move(launch_);
  if (launch->error != 0 || response_done_) {
    // Not started, or no longer wanted (the client left or the server is
    // stopping: cancel() marked the response done).
    context_.release_fork_slot();
    if (launch->error == 0) {
      proc::discard_child(launch->child);
    } else if (!response_done_) {
      const std::string reason = std::strerror(launch->error);
      log::write(LogLevel::Error, "process", log_fields_,
                 "Could not launch CGI script " + launch->path + " (" + reason + ")");
      send_error_response(ChildLaunch::failure_status(launch->error), "could not run the CGI script (" + reason + ")");
    }
    close_without_child();
    return;
  }
  const proc::SpawnedChild& spawned = launch->child;
  uv_loop_t* loop = idle_timer_.loop;
  started_ = true;
  open_child_pipes(loop, spawned, this, {&stdin_pipe_, &stdin_closed_}, {&stdout_pipe_, &stdout_closed_},
                   {&stderr_pipe_, &stderr_closed_});
  open_handles_ += kChildPipeHandles;
  stdin_queue_.attach(as_stream(&stdin_pipe_), this);
  if (child_.watch(loop, spawned.pid, spawned.pidfd, this) != 0) {
    log::write(LogLevel::Error, "process", log_fields_, "Cannot watch the CGI script's pidfd");
  }
  log::append_field(log_fields_, "pid", std::to_string(spawned.pid));
  // No body: the script sees EOF at once.
  if (body_remaining_ == 0) close_stdin();
  uv_read_start(as_stream(&stdout_pipe_), &CgiResponder::on_alloc, &CgiResponder::on_stdout_read);
  uv_read_start(as_stream(&stderr_pipe_), &CgiResponder::on_alloc, &CgiResponder::on_stderr_read);
  uv_timer_start(&idle_timer_, &CgiResponder::on_idle_timeout, kIdleTimeoutMs, 0);
  // The body: what came with the head, then the client's socket again
  // unless the script's stdin is already full.
  on_request_body(launch->early_bytes.data(), launch->early_bytes.size());
  if (body_paused_ && !stdin_queue_.over_high_water()) {
    body_paused_ = false;
    owner_.resume_request_body();
  }
}

void CgiResponder::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  // The loop's scratch buffer: each read is consumed before the next.
  ServerContext& context = static_cast<CgiResponder*>(handle->data)->context_;
  *buf = uv_buf_init(context.read_buffer, sizeof context.read_buffer);
}

// ------------------------------------------------------ client → script stdin

void CgiResponder::on_request_body(const char* data, std::size_t size) noexcept {
  if (!started_ || stdin_closed_ || body_remaining_ == 0 || stopping_) return;
  const std::size_t take = size < body_remaining_ ? size : static_cast<std::size_t>(body_remaining_);
  body_remaining_ -= take;
  stdin_queue_.write(data, take);
  if (body_remaining_ == 0) {
    stdin_queue_.finish_then();  // EOF once the body is written
    if (body_paused_) {
      body_paused_ = false;
      owner_.resume_request_body();
    }
    return;
  }
  if (stdin_queue_.over_high_water() && !body_paused_) {
    body_paused_ = true;
    owner_.pause_request_body();
  }
}

void CgiResponder::on_queue_drained(WriteQueue& /*queue*/) noexcept {
  if (body_paused_) {
    body_paused_ = false;
    owner_.resume_request_body();
  }
}

void CgiResponder::on_queue_finished(WriteQueue& /*queue*/) noexcept { close_stdin(); }

void CgiResponder::on_queue_error(WriteQueue& /*queue*/, int uv_error) noexcept {
  // The script closed stdin or exited without reading the whole body: it
  // may still answer, so only the rest of the body is dropped.
  log::write(LogLevel::Debug, "process", log_fields_,
             std::string("CGI script's stdin closed: ") + uv_strerror(uv_error));
  body_remaining_ = 0;
  close_stdin();
  if (body_paused_) {
    body_paused_ = false;
    owner_.resume_request_body();
  }
}

void CgiResponder::close_stdin() noexcept {
  if (stdin_closed_) return;
  close_pipe(stdin_pipe_, stdin_closed_);
  child_.note_stdin_closed();
}

// --------------------------------------------------- script stdout → client

void CgiResponder::on_stdout_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<CgiResponder*>(stream->data);
  if (nread > 0) {
    self->on_output(buf->base, static_cast<std::size_t>(nread));
  } else if (nread < 0) {
    if (nread != UV_EOF) {
      log::write(LogLevel::Error, "process", self->log_fields_,
                 std::string("Unexpected error while reading STDOUT from CGI script: ") +
                     uv_strerror(static_cast<int>(nread)));
    }
    self->on_output_end();
  }
}

void CgiResponder::on_output(const char* data, std::size_t size) noexcept {
  if (response_done_) return;  // drain and drop
  uv_timer_start(&idle_timer_, &CgiResponder::on_idle_timeout, kIdleTimeoutMs, 0);
  if (!head_sent_) {
    std::size_t consumed = 0;
    bridge::CgiResponseParser::Status status;
    try {
      status = parser_.feed(std::string_view(data, size), consumed);
    } catch (...) {
      fail_response(500, "out of memory");
      return;
    }
    if (status == bridge::CgiResponseParser::Status::NeedMore) return;
    if (status == bridge::CgiResponseParser::Status::Error) {
      fail_response(502, "the CGI script's response is malformed: " + parser_.error());
      return;
    }
    send_head();
    data += consumed;
    size -= consumed;
  }
  if (size > 0) send_body(data, size);
}

void CgiResponder::send_head() noexcept {
  head_sent_ = true;
  try {
    // --header-http first (websocketd adds them before the CGI handler
    // runs), then the script's own; the framing is ours: the body ends when
    // the connection closes.
    std::vector<http::Header> headers = context_.http_headers;
    headers.insert(headers.end(), parser_.headers().begin(), parser_.headers().end());
    const std::string head = http::format_response_head(parser_.status(), headers, std::nullopt, parser_.reason());
    sink_.send_response_bytes(head.data(), head.size());
  } catch (...) {
    response_done_ = true;
    sink_.abort_response();
    stop_script();
  }
}

void CgiResponder::send_body(const char* data, std::size_t size) noexcept {
  if (head_request_) return;  // HEAD: the script's body is read and dropped
  sink_.send_response_bytes(data, size);
  if (sink_.response_backlogged() && !stdout_paused_ && !stdout_closed_) {
    // The client reads slower than the script writes: let the pipe fill.
    stdout_paused_ = true;
    uv_read_stop(as_stream(&stdout_pipe_));
  }
}

void CgiResponder::on_client_drained() noexcept {
  if (stdout_paused_ && !stdout_closed_ && !response_done_) {
    stdout_paused_ = false;
    uv_read_start(as_stream(&stdout_pipe_), &CgiResponder::on_alloc, &CgiResponder::on_stdout_read);
  }
}

void CgiResponder::on_output_end() noexcept {
  close_pipe(stdout_pipe_, stdout_closed_);
  if (!response_done_) {
    if (!head_sent_) {
      parser_.finish();
      fail_response(502, "the CGI script's response is malformed: " + parser_.error());
      return;
    }
    finish_response();
  }
  stop_script();
}

void CgiResponder::finish_response() noexcept {
  response_done_ = true;
  uv_timer_stop(&idle_timer_);
  sink_.end_response();
}

void CgiResponder::fail_response(int status, const std::string& why) noexcept {
  if (response_done_) return;
  log::write(LogLevel::Error, "http", log_fields_, why);
  if (head_sent_) {
    // Part of the response is out: all we can do is cut it short.
    response_done_ = true;
    sink_.abort_response();
  } else {
    send_error_response(status, why);
  }
  stop_script();
}

void CgiResponder::send_error_response(int status, const std::string& why) noexcept {
  try {
    const std::string response = http::format_response(
        status, context_.http_headers,
        std::to_string(status) + " " + std::string(http::reason_phrase(status)) + ": " + why + "\n");
    sink_.send_response_bytes(response.data(), response.size());
  } catch (...) {
  }
  head_sent_ = true;
  finish_response();
}

void CgiResponder::on_idle_timeout(uv_timer_t* timer) noexcept {
  auto* self = static_cast<CgiResponder*>(timer->data);
  self->fail_response(504, "the CGI script sent nothing for " + std::to_string(kIdleTimeoutMs / 1000) + " s");
}

// ------------------------------------------------------------------- stderr

void CgiResponder::on_stderr_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<CgiResponder*>(stream->data);
  const bool eof = nread < 0;
  try {
    std::string_view input(nread > 0 ? buf->base : nullptr, nread > 0 ? static_cast<std::size_t>(nread) : 0);
    while (auto line = self->stderr_lines_.next_line(input)) {
      log::write(LogLevel::Error, "stderr", self->log_fields_, *line);
    }
    if (eof) {
      if (auto tail = self->stderr_lines_.finish()) log::write(LogLevel::Error, "stderr", self->log_fields_, *tail);
    }
  } catch (...) {
  }
  if (eof) {
    self->close_pipe(self->stderr_pipe_, self->stderr_closed_);
    self->advance_teardown();
  }
}

// ----------------------------------------------------------------- teardown

void CgiResponder::cancel() noexcept {
  if (launch_) {
    response_done_ = true;  // on_child_launched ends the script at once
    return;
  }
  if (!started_ || closed_reported_) return;  // never started, or already all closed
  response_done_ = true;
  uv_timer_stop(&idle_timer_);
  // Closing stdout too: a script still writing gets EPIPE/SIGPIPE at once.
  close_pipe(stdout_pipe_, stdout_closed_);
  stop_script();
}

void CgiResponder::shut_down() noexcept {
  if (!response_done_) {
    if (head_sent_) {
      response_done_ = true;
      sink_.abort_response();
    } else {
      send_error_response(503, "the server is shutting down");
    }
  }
  cancel();
}

void CgiResponder::stop_script() noexcept {
  if (!started_) return;
  if (!stopping_) {
    stopping_ = true;
    // Whatever of the body is still queued is not needed any more.
    close_stdin();
    child_.begin_termination(context_.config->closems, true);
  }
  advance_teardown();
}

void CgiResponder::kill_now() noexcept {
  if (!started_ || child_.exited()) return;
  ::kill(-child_.pid(), SIGKILL);
  proc::reap_child(child_.pid());
}

void CgiResponder::on_stdin_flush_timeout() noexcept { close_stdin(); }

void CgiResponder::on_child_exited(int wait_status) noexcept {
  context_.release_fork_slot();
  if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    log::write(LogLevel::Debug, "process", log_fields_, "CGI script exited with status 0");
  } else if (WIFEXITED(wait_status)) {
    log::write(LogLevel::Info, "process", log_fields_,
               "CGI script exited with status " + std::to_string(WEXITSTATUS(wait_status)));
  } else if (WIFSIGNALED(wait_status)) {
    log::write(LogLevel::Info, "process", log_fields_,
               "CGI script killed by signal " + std::to_string(WTERMSIG(wait_status)));
  }
  advance_teardown();
}

void CgiResponder::close_pipe(uv_pipe_t& pipe, bool& closed_flag) noexcept {
  if (closed_flag) return;
  closed_flag = true;
  uv_read_stop(as_stream(&pipe));
  uv_close(as_handle(&pipe), &CgiResponder::on_handle_closed);
}

void CgiResponder::advance_teardown() noexcept {
  // Until the response is complete the script's output is still wanted;
  // until the script is reaped its pipes may still carry it.
  if (!response_done_ || !child_.exited()) return;
  close_pipe(stdin_pipe_, stdin_closed_);
  close_pipe(stdout_pipe_, stdout_closed_);
  close_pipe(stderr_pipe_, stderr_closed_);
  if (!timer_closed_) {
    timer_closed_ = true;
    uv_close(as_handle(&idle_timer_), &CgiResponder::on_handle_closed);
  }
  if (!stopping_) {
    stopping_ = true;
    child_.begin_termination(context_.config->closems, true);
  }
  child_.close_when_done();
}

void CgiResponder::close_without_child() noexcept {
  child_closed_ = true;  // there is no child to wait for
  if (!timer_closed_) {
    timer_closed_ = true;
    uv_close(as_handle(&idle_timer_), &CgiResponder::on_handle_closed);
  }
}

void CgiResponder::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<CgiResponder*>(handle->data);
  --self->open_handles_;
  if (self->open_handles_ == 0 && self->child_closed_ && !self->closed_reported_) {
    self->closed_reported_ = true;
    self->owner_.on_cgi_closed();
  }
}

void CgiResponder::on_child_closed() noexcept {
  child_closed_ = true;
  if (open_handles_ == 0 && !closed_reported_) {
    closed_reported_ = true;
    owner_.on_cgi_closed();
  }
}

}  // namespace wsbridge::net
