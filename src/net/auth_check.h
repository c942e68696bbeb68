// Runs the --auth program for one request and reports its verdict, before
// the request is answered. The program gets the request's CGI environment
// and an empty stdin; its stdout (the first kMaxOutput bytes) and its exit
// status become a bridge::AuthVerdict. Its stderr is logged as any child's.
//
// Bounded like every program: it takes a --maxforks slot while it runs,
// and after the timeout it is refused with 503 and stopped with the usual
// signal sequence. A program that exited but left its stdout open (a
// background process) is judged on what it printed by then, at the timeout.
//
// The check owns its timer and its ChildSession; it tells its owner when
// every handle is closed, and only then may it be destroyed.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/child_launch.h"
#include "net/child_session.h"
#include "net/server_context.h"
#include "wsbridge/bridge/auth_verdict.h"

namespace wsbridge::net {

class AuthCheck final : private ChildSession::Owner, private ChildLaunch::Owner {
 public:
  // Output beyond this is ignored (variable lines and a header block fit
  // easily; anything longer is not an answer).
  static constexpr std::size_t kMaxOutput = 16 * 1024;

  class Owner {
   public:
    // Once, unless cancelled first: allowed or refused. A program that could
    // not be started or did not answer in time is a refusal with status 503.
    virtual void on_auth_decided(bridge::AuthVerdict& verdict) noexcept = 0;
    // Every handle is closed: the check may be destroyed now.
    virtual void on_auth_closed() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  AuthCheck(ServerContext& context, Owner& owner, std::string log_fields) noexcept;
  AuthCheck(const AuthCheck&) = delete;
  AuthCheck& operator=(const AuthCheck&) = delete;

  // Takes a --maxforks slot and starts `program` with `env` off the loop.
  // Returns 0 (on_auth_decided and on_auth_closed follow), EAGAIN when no
  // slot is free, or ENOMEM; with an error nothing was started and neither
  // callback comes.
  [[nodiscard]] int start(uv_loop_t* loop, const std::string& program, std::vector<std::string> env,
                          unsigned timeout_ms) noexcept;
  // The client left: no verdict is wanted; the program is stopped.
  void cancel() noexcept;
  // Server shutdown deadline: SIGKILL the program's group and reap it.
  void kill_now() noexcept { child_.kill_now(); }

  bool timed_out() const noexcept { return timed_out_; }

 private:
  static void on_timeout(uv_timer_t* timer) noexcept;
  static void on_timer_closed(uv_handle_t* handle) noexcept;
  void decide(bridge::AuthVerdict verdict) noexcept;
  void decide_from_output() noexcept;
  void refuse_unavailable(const std::string& why) noexcept;
  void stop_program() noexcept;
  void advance_teardown() noexcept;
  void report_closed_when_done() noexcept;

  // ChildSession::Owner
  void on_child_stdout(char* data, std::size_t size) noexcept override;
  void on_child_stdout_end(int uv_status) noexcept override;
  void on_child_stdin_drained() noexcept override {}
  void on_child_stdin_failed(int /*uv_error*/) noexcept override {}
  void on_child_exited(int wait_status) noexcept override;
  void on_child_session_closed() noexcept override;
  // ChildLaunch::Owner
  void on_child_launched() noexcept override;

  ServerContext& context_;
  Owner& owner_;
  std::string log_fields_;
  uv_timer_t timer_{};
  ChildSession child_;
  std::unique_ptr<ChildLaunch> launch_;  // while the program is being started
  std::string output_;
  unsigned timeout_ms_ = 0;
  int wait_status_ = 0;
  bool exited_ = false;
  bool stdout_ended_ = false;
  bool decided_ = false;  // or cancelled: no (more) verdict is wanted
  bool timed_out_ = false;
  bool output_cut_logged_ = false;
  bool timer_open_ = false;     // initialised, and its close callback has not run
  bool timer_closing_ = false;  // uv_close was called
  bool child_closed_ = false;
  bool closed_reported_ = false;
};

}  // namespace wsbridge::net
