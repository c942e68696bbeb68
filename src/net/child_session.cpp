#include "net/child_session.h"

#include <signal.h>
#include <sys/wait.h>

#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"

namespace wsbridge::net {

using log::LogLevel;

void ChildSession::start(uv_loop_t* loop, const proc::SpawnedChild& spawned,
                         std::uint64_t requested_at_ns) noexcept {
  started_ = true;
  metrics::LoopMetrics& metrics = context_.metrics;
  ++metrics.programs_started;
  ++metrics.programs_running;
  const std::uint64_t now_ns = uv_hrtime();
  metrics.program_start_duration.observe(now_ns > requested_at_ns ? (now_ns - requested_at_ns) / 1000 : 0);
  open_pipe(loop, stdin_pipe_, stdin_closed_, spawned.stdin_fd);
  open_pipe(loop, stdout_pipe_, stdout_closed_, spawned.stdout_fd);
  open_pipe(loop, stderr_pipe_, stderr_closed_, spawned.stderr_fd);
  stdin_queue_.attach(as_stream(&stdin_pipe_), this);
  if (int err = child_.watch(loop, spawned.pid, this); err != 0) {
    log::write(LogLevel::Error, "process", log_fields_,
               std::string("Cannot watch the child for its exit: ") + uv_strerror(err));
  }
}

void ChildSession::open_pipe(uv_loop_t* loop, uv_pipe_t& pipe, bool& closed_flag, int fd) noexcept {
  uv_pipe_init(loop, &pipe, 0);
  pipe.data = this;
  closed_flag = false;
  ++open_pipes_;
  uv_pipe_open(&pipe, fd);
}

void ChildSession::start_reading() noexcept {
  uv_read_start(as_stream(&stdout_pipe_), &ChildSession::on_alloc, &ChildSession::on_stdout_read);
  uv_read_start(as_stream(&stderr_pipe_), &ChildSession::on_alloc, &ChildSession::on_stderr_read);
}

void ChildSession::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  // The loop's scratch buffer: each read is consumed before the next.
  ServerContext& context = static_cast<ChildSession*>(handle->data)->context_;
  *buf = uv_buf_init(context.read_buffer, sizeof context.read_buffer);
}

// ------------------------------------------------------------------- stdin

void ChildSession::close_stdin() noexcept {
  if (stdin_closed_) return;
  close_pipe(stdin_pipe_, stdin_closed_);
  child_.note_stdin_closed();
}

void ChildSession::on_queue_drained(WriteQueue& /*queue*/) noexcept { owner_.on_child_stdin_drained(); }

void ChildSession::on_queue_finished(WriteQueue& /*queue*/) noexcept { close_stdin(); }

void ChildSession::on_queue_error(WriteQueue& /*queue*/, int uv_error) noexcept {
  close_stdin();
  owner_.on_child_stdin_failed(uv_error);
}

void ChildSession::on_stdin_flush_timeout() noexcept {
  log::write(LogLevel::Error, "process", log_fields_,
             "Child did not read its input within " + std::to_string(proc::ChildProcess::kStdinFlushTimeoutMs) +
                 " ms; dropping " + std::to_string(stdin_queue_.pending()) + " bytes and closing stdin");
  close_stdin();
  // stdin may have been closed already without the clock being told;
  // telling it twice is harmless.
  child_.note_stdin_closed();
}

// --------------------------------------------------------- stdout, stderr

void ChildSession::on_stdout_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<ChildSession*>(stream->data);
  if (nread > 0) {
    self->owner_.on_child_stdout(buf->base, static_cast<std::size_t>(nread));
  } else if (nread < 0) {
    // The child will write no more (or cannot be read): the owner delivers
    // what it still holds.
    self->close_stdout();
    self->owner_.on_child_stdout_end(static_cast<int>(nread));
  }
}

void ChildSession::on_stderr_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<ChildSession*>(stream->data);
  if (nread == 0) return;  // EAGAIN
  const bool eof = nread < 0;
  std::string_view input(eof ? nullptr : buf->base, eof ? 0 : static_cast<std::size_t>(nread));
  // Each line is logged, as websocketd does, whether or not the owner sends
  // it on too.
  StderrLines lines(self->stderr_lines_, input, eof, self->log_fields_);
  try {
    self->owner_.on_child_stderr(lines);
    lines.log_rest();
  } catch (const std::bad_alloc&) {
    // A line too long to hold ends this child and so its connection, as
    // docs/architecture.md ("Running out of memory") says; others go on.
    log::write(LogLevel::Error, "process", self->log_fields_, "Out of memory for the program's stderr: stopping it");
    self->stop();
  }
  if (eof) self->close_pipe(self->stderr_pipe_, self->stderr_closed_);
}

void ChildSession::pause_stdout() noexcept {
  if (stdout_paused_ || stdout_closed_) return;
  stdout_paused_ = true;
  ++context_.metrics.backpressure_pauses[static_cast<std::size_t>(metrics::Direction::ToClient)];
  uv_read_stop(as_stream(&stdout_pipe_));
}

void ChildSession::pause_stderr() noexcept {
  if (stderr_paused_ || stderr_closed_) return;
  stderr_paused_ = true;
  uv_read_stop(as_stream(&stderr_pipe_));
}

void ChildSession::resume_output() noexcept {
  if (stdout_paused_ && !stdout_closed_) {
    stdout_paused_ = false;
    uv_read_start(as_stream(&stdout_pipe_), &ChildSession::on_alloc, &ChildSession::on_stdout_read);
  }
  if (stderr_paused_ && !stderr_closed_) {
    stderr_paused_ = false;
    uv_read_start(as_stream(&stderr_pipe_), &ChildSession::on_alloc, &ChildSession::on_stderr_read);
  }
}

// ------------------------------------------------------------------ ending

void ChildSession::stop() noexcept {
  if (!started_ || stopping_) return;
  stopping_ = true;
  // The escalation clock starts once stdin is closed, which happens after
  // everything queued has reached the child (or the child stops reading
  // for kStdinFlushTimeoutMs).
  child_.begin_termination(context_.config->closems, stdin_closed_);
  if (!stdin_closed_) stdin_queue_.finish_then();
}

void ChildSession::close_after_exit() noexcept {
  close_requested_ = true;
  close_if_exited();
}

void ChildSession::close_if_exited() noexcept {
  if (!close_requested_ || !started_ || !child_.exited()) return;
  // The child is reaped: whatever the pipes still hold (or a grandchild
  // keeps open) has nowhere to go.
  close_stdin();  // also starts the escalation clock if it still waited for stdin
  close_pipe(stdout_pipe_, stdout_closed_);
  close_pipe(stderr_pipe_, stderr_closed_);
  stop();  // what is left of the child's process group is signalled too
  child_.close_when_done();
}

void ChildSession::kill_now() noexcept {
  if (!started_) return;
  // The group too: a grandchild may outlive the child it came from.
  ::kill(-child_.pid(), SIGKILL);
  if (child_.exited()) return;
  proc::reap_child(child_.pid());
}

void ChildSession::on_child_exited(int wait_status) noexcept {
  count_exit(wait_status);
  owner_.on_child_exited(wait_status);
  close_if_exited();
}

void ChildSession::count_exit(int wait_status) noexcept {
  metrics::LoopMetrics& metrics = context_.metrics;
  --metrics.programs_running;
  if (WIFSIGNALED(wait_status)) {
    const int signal_number = WTERMSIG(wait_status);
    if (signal_number > 0 && static_cast<std::size_t>(signal_number) < metrics::kSignalSlots) {
      ++metrics.program_exits_by_signal[static_cast<std::size_t>(signal_number)];
    }
  } else if (WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0) {
    ++metrics.program_exits_success;
  } else {
    ++metrics.program_exits_failure;
  }
}

void ChildSession::close_pipe(uv_pipe_t& pipe, bool& closed_flag) noexcept {
  if (closed_flag) return;
  closed_flag = true;
  uv_read_stop(as_stream(&pipe));
  uv_close(as_handle(&pipe), &ChildSession::on_pipe_closed);
}

void ChildSession::on_pipe_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<ChildSession*>(handle->data);
  --self->open_pipes_;
  self->report_closed_when_done();
}

void ChildSession::on_child_closed() noexcept {
  child_closed_ = true;
  report_closed_when_done();
}

void ChildSession::report_closed_when_done() noexcept {
  if (open_pipes_ > 0 || !child_closed_ || closed_reported_) return;
  closed_reported_ = true;
  owner_.on_child_session_closed();
}

}  // namespace wsbridge::net
