// Runs one --cgidir script for one plain HTTP request (CGI/1.1, RFC 3875):
// the request body (Content-Length bytes) goes to the script's stdin, its
// stdout's header block becomes the response head, and the rest is streamed
// to the client as the body; stderr is logged as for WebSocket children.
// Both directions have backpressure: the client's socket is paused while
// the script's stdin is full, and the script's stdout while the client is
// behind. A script that stays silent for kIdleTimeoutMs is stopped with the
// usual kill escalation (stdin EOF, SIGINT, SIGTERM, SIGKILL to its group).
//
// The responder owns its timer and the script's ChildSession; it tells its
// owner when every handle is closed, and only then may it be destroyed.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/child_launch.h"
#include "net/child_session.h"
#include "net/response_sink.h"
#include "net/server_context.h"
#include "wsbridge/bridge/cgi_response.h"

namespace wsbridge::net {

class CgiResponder final : private ChildSession::Owner, private ChildLaunch::Owner {
 public:
  // Without output for this long, a script is ended: 504 before its header
  // block, a cut-off response after it.
  static constexpr unsigned kIdleTimeoutMs = 30000;

  class Owner {
   public:
    // Every handle is closed: the responder may be destroyed now.
    virtual void on_cgi_closed() noexcept = 0;
    // The script's stdin is full / has room again: stop / resume reading
    // the request body from the client.
    virtual void pause_request_body() noexcept = 0;
    virtual void resume_request_body() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  CgiResponder(ServerContext& context, ResponseSink& sink, Owner& owner, std::string log_fields) noexcept;
  CgiResponder(const CgiResponder&) = delete;
  CgiResponder& operator=(const CgiResponder&) = delete;

  // Starts `script` in its own folder with `env`, off the loop (ChildLaunch).
  // `early_body` is what followed the request head; the client's socket is
  // paused until the script can take the rest. Returns 0, and the responder
  // owns the fork slot the caller took (a script that cannot be started is
  // answered with 500 here); or an errno value with nothing queued and
  // nothing answered (the caller answers and keeps the slot).
  [[nodiscard]] int start(uv_loop_t* loop, const std::string& script, std::vector<std::string> env,
                          std::uint64_t body_length, bool head_request, std::string_view early_body) noexcept;

  // Bytes the client sent after the request head; what goes beyond the
  // announced Content-Length is ignored (no keep-alive, no pipelining).
  void on_request_body(const char* data, std::size_t size) noexcept;
  // Bytes of the request body (Content-Length) are still to come.
  bool expects_body() const noexcept { return body_remaining_ > 0; }
  // The client's write queue drained: read the script's output again.
  void on_client_drained() noexcept;
  // The client is gone: end the script.
  void cancel() noexcept;
  // The server is stopping: end the script, and the response with it (a
  // 503 if nothing was sent yet, else cut short), so the client's socket
  // does not wait for the shutdown deadline.
  void shut_down() noexcept;
  // Server shutdown deadline: SIGKILL the script's group and reap it.
  void kill_now() noexcept;

 private:
  static void on_idle_timeout(uv_timer_t* timer) noexcept;
  static void on_timer_closed(uv_handle_t* handle) noexcept;

  void send_head() noexcept;
  void send_body(const char* data, std::size_t size) noexcept;
  void fail_response(int status, const std::string& why) noexcept;
  // The response is an error page, before anything else was sent.
  void send_error_response(int status, const std::string& why) noexcept;
  // No script will run: close the timer and report closed.
  void close_without_child() noexcept;
  void finish_response() noexcept;
  void stop_script() noexcept;
  void resume_body() noexcept;
  void advance_teardown() noexcept;
  void report_closed_when_done() noexcept;

  // ChildSession::Owner
  void on_child_stdout(char* data, std::size_t size) noexcept override;
  void on_child_stdout_end(int uv_status) noexcept override;
  void on_child_stdin_drained() noexcept override;
  void on_child_stdin_failed(int uv_error) noexcept override;
  void on_child_exited(int wait_status) noexcept override;
  void on_child_session_closed() noexcept override;
  // ChildLaunch::Owner
  void on_child_launched() noexcept override;
  // Not once the response is over (the client left, the server stops).
  bool launch_still_wanted() noexcept override { return !response_done_; }

  ServerContext& context_;
  ResponseSink& sink_;
  Owner& owner_;
  std::string log_fields_;
  uv_timer_t idle_timer_{};
  ChildSession child_;
  std::unique_ptr<ChildLaunch> launch_;  // while the script is being started
  bridge::CgiResponseParser parser_;
  std::uint64_t body_remaining_ = 0;
  std::uint64_t requested_at_ns_ = 0;  // uv_hrtime at start(), for the metrics
  bool head_request_ = false;
  bool head_sent_ = false;
  bool response_done_ = false;
  bool body_paused_ = false;
  std::uint8_t open_handles_ = 0;  // the idle timer's (the session counts its own)
  bool timer_closed_ = true;
  bool child_closed_ = false;  // the ChildSession's handles (none without a script)
  bool closed_reported_ = false;
};

}  // namespace wsbridge::net
