#include "net/auth_check.h"

#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"
#include "proc/spawn.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;
}  // namespace

AuthCheck::AuthCheck(ServerContext& context, Owner& owner, std::string log_fields) noexcept
    : context_(context), owner_(owner), log_fields_(std::move(log_fields)), child_(context, *this, log_fields_) {}

int AuthCheck::start(uv_loop_t* loop, const std::string& program, std::vector<std::string> env,
                     unsigned timeout_ms) noexcept {
  auto launch = std::unique_ptr<ChildLaunch>(new (std::nothrow) ChildLaunch);
  try {
    if (!launch) throw std::bad_alloc();
    launch->path = program;
    launch->argv = {program};
    launch->env = std::move(env);
    output_.reserve(256);
  } catch (...) {
    return ENOMEM;
  }
  if (!context_.take_fork_slot()) return EAGAIN;
  timeout_ms_ = timeout_ms;
  launch->start(loop, *context_.spawner, *this, context_.launches);
  launch_ = std::move(launch);
  // The deadline counts from the request, so a slow launch is part of it.
  uv_timer_init(loop, &timer_);  // cannot fail for a timer on a live loop
  timer_.data = this;
  timer_open_ = true;
  uv_timer_start(&timer_, &AuthCheck::on_timeout, timeout_ms_, 0);
  return 0;
}

void AuthCheck::on_child_launched() noexcept {
  std::unique_ptr<ChildLaunch> launch = std::move(launch_);
  if (launch->error != 0 || decided_) {
    context_.release_fork_slot();
    if (launch->error == 0) proc::discard_child(launch->child);
    child_closed_ = true;  // no session to wait for
    if (launch->error != 0) {
      const std::string why = std::string("could not start the auth program ") + launch->path + " (" +
                              std::strerror(launch->error) + ")";
      log::write(LogLevel::Error, "auth", log_fields_, why);
      refuse_unavailable(why);
    }
    advance_teardown();
    return;
  }
  child_.start(timer_.loop, launch->child, uv_hrtime());
  log::append_field(log_fields_, "auth_pid", std::to_string(launch->child.pid));
  child_.close_stdin();  // it reads nothing: the request is in its environment
  child_.start_reading();
}

void AuthCheck::on_child_stdout(char* data, std::size_t size) noexcept {
  const std::size_t room = kMaxOutput - output_.size();
  if (size > room && !output_cut_logged_) {
    output_cut_logged_ = true;
    log::write(LogLevel::Info, "auth", log_fields_,
               "auth program printed more than " + std::to_string(kMaxOutput) + " bytes; the rest is ignored");
  }
  try {
    output_.append(data, size < room ? size : room);
  } catch (...) {
    refuse_unavailable("out of memory");
  }
}

void AuthCheck::on_child_stdout_end(int /*uv_status*/) noexcept {
  stdout_ended_ = true;
  if (exited_) decide_from_output();
}

void AuthCheck::on_child_exited(int wait_status) noexcept {
  context_.release_fork_slot();
  exited_ = true;
  wait_status_ = wait_status;
  // Its output may still be in the pipe: decide at end of file (or at the
  // timeout, if something it left behind holds the pipe open).
  if (stdout_ended_) decide_from_output();
  advance_teardown();
}

void AuthCheck::decide_from_output() noexcept {
  if (decided_) return;
  bridge::AuthVerdict verdict;
  try {
    verdict = bridge::read_auth_verdict(wait_status_, output_);
    for (const std::string& line : verdict.ignored) {
      log::write(LogLevel::Info, "auth", log_fields_, "auth program: ignored: " + line);
    }
  } catch (...) {
    refuse_unavailable("out of memory");
    return;
  }
  decide(std::move(verdict));
}

void AuthCheck::refuse_unavailable(const std::string& why) noexcept {
  if (decided_) return;
  bridge::AuthVerdict verdict;
  verdict.status = 503;
  try {
    verdict.body = "503 Service Unavailable: " + why + "\n";
  } catch (...) {
  }
  decide(std::move(verdict));
  stop_program();
}

void AuthCheck::decide(bridge::AuthVerdict verdict) noexcept {
  decided_ = true;
  if (timer_open_ && !timer_closing_) uv_timer_stop(&timer_);
  owner_.on_auth_decided(verdict);
  advance_teardown();
}

void AuthCheck::on_timeout(uv_timer_t* timer) noexcept {
  auto* self = static_cast<AuthCheck*>(timer->data);
  if (self->exited_) {
    self->decide_from_output();  // exited, but something holds its stdout
    self->stop_program();
    return;
  }
  self->timed_out_ = true;
  const std::string why = "the auth program did not answer in " + std::to_string(self->timeout_ms_) + " ms";
  log::write(LogLevel::Error, "auth", self->log_fields_, why);
  self->refuse_unavailable(why);
}

void AuthCheck::cancel() noexcept {
  decided_ = true;
  if (timer_open_ && !timer_closing_) uv_timer_stop(&timer_);
  stop_program();
}

void AuthCheck::stop_program() noexcept {
  if (child_.started()) {
    child_.close_stdout();
    child_.stop();
  }
  advance_teardown();
}

void AuthCheck::advance_teardown() noexcept {
  if (!decided_) return;
  if (launch_) return;  // on_child_launched comes first
  if (child_.started() && !exited_) return;  // the stop sequence is running
  if (timer_open_ && !timer_closing_) {
    timer_closing_ = true;
    uv_close(as_handle(&timer_), &AuthCheck::on_timer_closed);
  }
  if (child_.started()) child_.close_after_exit();
}

void AuthCheck::on_timer_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<AuthCheck*>(handle->data);
  self->timer_open_ = false;
  self->report_closed_when_done();
}

void AuthCheck::on_child_session_closed() noexcept {
  child_closed_ = true;
  report_closed_when_done();
}

void AuthCheck::report_closed_when_done() noexcept {
  if (timer_open_ || !child_closed_ || closed_reported_) return;
  closed_reported_ = true;
  owner_.on_auth_closed();
}

}  // namespace wsbridge::net
