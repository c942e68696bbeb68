// One running child and its three pipes, for whichever part relays to it
// (a WebSocket connection, a CGI responder): the only code that owns a
// child's pipes.
//
//   owner --write_stdin--> stdin queue (watermarks) --> child's stdin
//   child's stdout --> on_child_stdout (reads; the owner may pause them)
//   child's stderr --> logged line by line, and offered to on_child_stderr
//
// Ending the child is a request: stop() lets stdin flush (at most
// ChildProcess::kStdinFlushTimeoutMs), then ChildProcess escalates through
// SIGINT, SIGTERM and SIGKILL to the child's process group. close_after_exit()
// closes every pipe once the child is reaped; the session counts its own
// handles and tells its owner once, from the last close callback
// (on_child_session_closed), and only then may it be destroyed.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <string>

#include "net/server_context.h"
#include "net/stderr_lines.h"
#include "net/write_queue.h"
#include "proc/child_process.h"
#include "proc/spawn.h"
#include "wsbridge/bridge/line_splitter.h"

namespace wsbridge::net {

class ChildSession final : private WriteQueue::Owner, private proc::ChildProcess::Owner {
 public:
  class Owner {
   public:
    // One read of the child's stdout.
    virtual void on_child_stdout(char* data, std::size_t size) noexcept = 0;
    // The child's stdout ended: UV_EOF, or the read error that ended it.
    // The session has closed its end.
    virtual void on_child_stdout_end(int uv_status) noexcept = 0;
    // One read of stderr as lines; each is logged as it is taken, and what
    // the owner leaves is logged after this returns. May throw bad_alloc.
    virtual void on_child_stderr(StderrLines& /*lines*/) {}
    // The stdin queue fell to its low-water mark after having been above.
    virtual void on_child_stdin_drained() noexcept = 0;
    // The child's stdin failed (it closed it, or exited): the session closed
    // it, dropping what was queued; later writes are ignored.
    virtual void on_child_stdin_failed(int uv_error) noexcept = 0;
    // The child has exited and been reaped (wait_status as from waitpid).
    virtual void on_child_exited(int wait_status) noexcept = 0;
    // Every handle of the session is closed: it may be destroyed now.
    virtual void on_child_session_closed() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  // `log_fields` is the owner's, read whenever the session logs.
  ChildSession(ServerContext& context, Owner& owner, const std::string& log_fields) noexcept
      : context_(context), owner_(owner), log_fields_(log_fields) {}
  ChildSession(const ChildSession&) = delete;
  ChildSession& operator=(const ChildSession&) = delete;

  // Takes `spawned`'s pipes and starts watching for its exit.
  // Reading its output waits for start_reading(). Once only.
  // `requested_at_ns` (uv_hrtime) is when the request that asked for the
  // program was complete: the metrics time the launch from there.
  void start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept;
  void start_reading() noexcept;

  // ------------------------------------------------------------- stdin
  // False once stdin is closed or the child is being stopped.
  bool accepts_stdin() const noexcept { return started_ && !stdin_closed_ && !stopping_; }
  void write_stdin(const uv_buf_t* bufs, unsigned count) noexcept { stdin_queue_.write(bufs, count); }
  void write_stdin(const char* data, std::size_t size) noexcept { stdin_queue_.write(data, size); }
  // Above the high-water mark: the owner stops reading its source until
  // on_child_stdin_drained.
  bool stdin_full() const noexcept { return stdin_queue_.over_high_water(); }
  // Writes made while the returned Cork lives reach the child in one write.
  [[nodiscard]] WriteQueue::Cork cork_stdin() noexcept { return WriteQueue::Cork(stdin_queue_); }
  // Closes stdin once what is queued has been written (end of input).
  void finish_stdin() noexcept { stdin_queue_.finish_then(); }
  // Closes stdin now, dropping what is queued.
  void close_stdin() noexcept;

  // ------------------------------------------------------- stdout, stderr
  // Stop reading stdout (or stderr) while the destination is full...
  void pause_stdout() noexcept;
  void pause_stderr() noexcept;
  // ...and read whatever was paused again.
  void resume_output() noexcept;
  // Closes stdout now: a child still writing gets EPIPE (or SIGPIPE).
  void close_stdout() noexcept { close_pipe(stdout_pipe_, stdout_closed_); }

  // ------------------------------------------------------------- ending
  // Starts ending the child: stdin closes once flushed, then the signals
  // follow with --closems added to each delay. Idempotent.
  void stop() noexcept;
  // Once the child is reaped: closes every pipe and the exit watch (stop()
  // first if it was not called); on_child_session_closed follows.
  // Idempotent; may be called before the child exits.
  void close_after_exit() noexcept;
  // Server shutdown deadline: SIGKILL the child's process group and reap
  // the child now, so nothing outlives the server.
  void kill_now() noexcept;

  bool started() const noexcept { return started_; }
  bool stopping() const noexcept { return stopping_; }
  bool exited() const noexcept { return child_.exited(); }
  std::size_t stdin_pending() const noexcept { return stdin_queue_.pending(); }

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_stdout_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_stderr_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_pipe_closed(uv_handle_t* handle) noexcept;
  void open_pipe(uv_loop_t* loop, uv_pipe_t& pipe, bool& closed_flag, int fd) noexcept;
  void close_pipe(uv_pipe_t& pipe, bool& closed_flag) noexcept;
  void count_exit(int wait_status) noexcept;  // for the metrics
  void close_if_exited() noexcept;
  void report_closed_when_done() noexcept;

  // WriteQueue::Owner (stdin)
  void on_queue_drained(WriteQueue& queue) noexcept override;
  void on_queue_finished(WriteQueue& queue) noexcept override;
  void on_queue_error(WriteQueue& queue, int uv_error) noexcept override;
  // proc::ChildProcess::Owner
  void on_child_exited(int wait_status) noexcept override;
  void on_child_closed() noexcept override;
  void on_stdin_flush_timeout() noexcept override;

  ServerContext& context_;
  Owner& owner_;
  const std::string& log_fields_;
  uv_pipe_t stdin_pipe_{};
  uv_pipe_t stdout_pipe_{};
  uv_pipe_t stderr_pipe_{};
  WriteQueue stdin_queue_;
  proc::ChildProcess child_;
  bridge::LineSplitter stderr_lines_{kMaxStderrLine};
  std::uint8_t open_pipes_ = 0;
  bool started_ = false;
  bool stopping_ = false;
  bool close_requested_ = false;
  bool child_closed_ = false;
  bool closed_reported_ = false;
  bool stdin_closed_ = true;  // no child yet
  bool stdout_closed_ = true;
  bool stderr_closed_ = true;
  bool stdout_paused_ = false;
  bool stderr_paused_ = false;
};

}  // namespace wsbridge::net
