#include "net/cgi_responder.h"

#include <sys/wait.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"
#include "proc/spawn.h"
#include "wsbridge/http/refusal.h"
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
    : context_(context),
      sink_(sink),
      owner_(owner),
      log_fields_(std::move(log_fields)),
      child_(context, *this, log_fields_) {}

int CgiResponder::start(uv_loop_t* loop, const std::string& script, std::vector<std::string> env,
                        std::uint64_t body_length, bool head_request, std::string_view early_body) noexcept {
  head_request_ = head_request;
  body_remaining_ = body_length;
  requested_at_ns_ = uv_hrtime();
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
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  launch->start(loop, *context_.spawner, *this, context_.launches);
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
      const http::Refusal refusal = http::refusal_for_launch_error(launch->error);
      send_error_response(http::refusal_info(refusal).status, "could not run the CGI script (" + reason + ")");
    }
    close_without_child();
    return;
  }
  child_.start(idle_timer_.loop, launch->child, requested_at_ns_);
  log::append_field(log_fields_, "pid", std::to_string(launch->child.pid));
  // No body: the script sees EOF at once.
  if (body_remaining_ == 0) child_.close_stdin();
  child_.start_reading();
  uv_timer_start(&idle_timer_, &CgiResponder::on_idle_timeout, kIdleTimeoutMs, 0);
  // The body: what came with the head, then the client's socket again
  // unless the script's stdin is already full.
  on_request_body(launch->early_bytes.data(), launch->early_bytes.size());
  if (!child_.stdin_full()) resume_body();
}

// ------------------------------------------------------ client → script stdin

void CgiResponder::on_request_body(const char* data, std::size_t size) noexcept {
  if (!child_.accepts_stdin() || body_remaining_ == 0) return;
  const std::size_t take = size < body_remaining_ ? size : static_cast<std::size_t>(body_remaining_);
  body_remaining_ -= take;
  child_.write_stdin(data, take);
  if (body_remaining_ == 0) {
    child_.finish_stdin();  // EOF once the body is written
    resume_body();
    return;
  }
  if (child_.stdin_full() && !body_paused_) {
    body_paused_ = true;
    owner_.pause_request_body();
  }
}

void CgiResponder::resume_body() noexcept {
  if (!body_paused_) return;
  body_paused_ = false;
  owner_.resume_request_body();
}

void CgiResponder::on_child_stdin_drained() noexcept { resume_body(); }

void CgiResponder::on_child_stdin_failed(int uv_error) noexcept {
  // The script closed stdin or exited without reading the whole body: it
  // may still answer, so only the rest of the body is dropped.
  log::write(LogLevel::Debug, "process", log_fields_,
             std::string("CGI script's stdin closed: ") + uv_strerror(uv_error));
  body_remaining_ = 0;
  resume_body();
}

// --------------------------------------------------- script stdout → client

void CgiResponder::on_child_stdout_end(int uv_status) noexcept {
  if (uv_status != UV_EOF) {
    log::write(LogLevel::Error, "process", log_fields_,
               std::string("Unexpected error while reading STDOUT from CGI script: ") + uv_strerror(uv_status));
  }
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

void CgiResponder::on_child_stdout(char* data, std::size_t size) noexcept {
  if (response_done_) return;  // drain and drop
  uv_timer_start(&idle_timer_, &CgiResponder::on_idle_timeout, kIdleTimeoutMs, 0);
  if (!head_sent_) {
    std::size_t consumed = 0;
    bridge::CgiResponseParser::Status status;
    try {
      status = parser_.feed(std::string_view(data, size), consumed);
    } catch (const std::bad_alloc&) {
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
  } catch (const std::bad_alloc&) {
    response_done_ = true;
    sink_.abort_response();
    stop_script();
  }
}

void CgiResponder::send_body(const char* data, std::size_t size) noexcept {
  if (head_request_) return;  // HEAD: the script's body is read and dropped
  sink_.send_response_bytes(data, size);
  // The client reads slower than the script writes: let the pipe fill.
  if (sink_.response_backlogged()) child_.pause_stdout();
}

void CgiResponder::on_client_drained() noexcept {
  if (!response_done_) child_.resume_output();
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
  } catch (const std::bad_alloc&) {
    // The connection ends without an answer (docs/architecture.md,
    // "Running out of memory").
    log::write(LogLevel::Error, "http", log_fields_, "Out of memory for the error response: closing");
  }
  head_sent_ = true;
  finish_response();
}

void CgiResponder::on_idle_timeout(uv_timer_t* timer) noexcept {
  auto* self = static_cast<CgiResponder*>(timer->data);
  self->fail_response(504, "the CGI script sent nothing for " + std::to_string(kIdleTimeoutMs / 1000) + " s");
}

// ----------------------------------------------------------------- teardown

void CgiResponder::cancel() noexcept {
  if (launch_) {
    response_done_ = true;  // on_child_launched ends the script at once
    return;
  }
  if (!child_.started() || closed_reported_) return;  // never started, or already all closed
  response_done_ = true;
  uv_timer_stop(&idle_timer_);
  // Closing stdout too: a script still writing gets EPIPE/SIGPIPE at once.
  child_.close_stdout();
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
  if (!child_.started()) return;
  // Whatever of the body is still queued is not needed any more.
  child_.close_stdin();
  child_.stop();
  advance_teardown();
}

void CgiResponder::kill_now() noexcept { child_.kill_now(); }

void CgiResponder::on_child_exited(int wait_status) noexcept {
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

void CgiResponder::advance_teardown() noexcept {
  // Until the response is complete the script's output is still wanted;
  // until the script is reaped its pipes may still carry it.
  if (!response_done_ || !child_.exited()) return;
  if (!timer_closed_) {
    timer_closed_ = true;
    uv_close(as_handle(&idle_timer_), &CgiResponder::on_timer_closed);
  }
  child_.close_after_exit();
}

void CgiResponder::close_without_child() noexcept {
  child_closed_ = true;  // there is no child to wait for
  if (!timer_closed_) {
    timer_closed_ = true;
    uv_close(as_handle(&idle_timer_), &CgiResponder::on_timer_closed);
  }
}

void CgiResponder::on_timer_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<CgiResponder*>(handle->data);
  --self->open_handles_;
  self->report_closed_when_done();
}

void CgiResponder::on_child_session_closed() noexcept {
  // The fork slot is held until here, as for a WebSocket program: the
  // script's pipes are closed and its process group is gone.
  context_.release_fork_slot();
  child_closed_ = true;
  report_closed_when_done();
}

void CgiResponder::report_closed_when_done() noexcept {
  if (open_handles_ > 0 || !child_closed_ || closed_reported_) return;
  closed_reported_ = true;
  owner_.on_cgi_closed();
}

}  // namespace wsbridge::net
