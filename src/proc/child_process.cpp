#include "proc/child_process.h"

#include <dirent.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "log/logger.h"

namespace wsbridge::proc {
namespace {

struct EscalationStep {
  int signal;
  unsigned base_delay_ms;  // before --closems is added, as websocketd
  const char* name;
};
// websocketd 0.4.1 process_endpoint.go Terminate: 100, 250, 500 ms.
constexpr EscalationStep kSteps[] = {
    {SIGINT, 100, "SIGINT"},
    {SIGTERM, 250, "SIGTERM"},
    {SIGKILL, 500, "SIGKILL"},
};
// After SIGKILL, how long before we report that the child is still there.
constexpr unsigned kKillReportDelayMs = 1000;

// Whether process group `pgid` holds a process that is not a zombie. Read
// from /proc (stat: "pid (comm) state ppid pgrp ..."), so only for the rare
// group that outlived SIGKILL; kill(-pgid, 0) cannot tell zombies apart.
bool group_has_live_member(pid_t pgid) noexcept {
  DIR* dir = opendir("/proc");
  if (dir == nullptr) return true;  // cannot tell: assume the worst
  bool live = false;
  while (dirent* entry = readdir(dir)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    char path[300];  // "/proc/" + a name of at most 255 bytes + "/stat"
    std::snprintf(path, sizeof path, "/proc/%s/stat", entry->d_name);
    FILE* file = std::fopen(path, "re");
    if (file == nullptr) continue;  // gone meanwhile
    char line[512];
    const bool read = std::fgets(line, sizeof line, file) != nullptr;
    std::fclose(file);
    // comm may hold spaces and parentheses: the fields resume after the last ')'.
    const char* end_of_comm = read ? std::strrchr(line, ')') : nullptr;
    char state = 0;
    int ppid = 0, pgrp = 0;
    if (end_of_comm == nullptr || std::sscanf(end_of_comm + 1, " %c %d %d", &state, &ppid, &pgrp) != 3) continue;
    if (pgrp == pgid && state != 'Z' && state != 'X') {
      live = true;
      break;
    }
  }
  closedir(dir);
  return live;
}

}  // namespace

ChildProcess::~ChildProcess() {
  if (watched_) ChildReaper::unwatch(pid_);
}

int ChildProcess::watch(uv_loop_t* loop, pid_t pid, Owner* owner) noexcept {
  owner_ = owner;
  pid_ = pid;
  // uv_timer_init only fills in the handle (libuv's src/timer.c): it cannot
  // fail, so the timer is always there to close.
  (void)uv_timer_init(loop, &timer_);
  timer_.data = this;
  const int err = ChildReaper::watch(loop, pid, this);
  watched_ = err == 0;
  if (err != 0) end_unwatched_child(err);
  return err;
}

void ChildProcess::end_unwatched_child(int err) noexcept {
  // Without a watch nothing would tell us of the exit, and the owner would
  // wait for it forever. Rather than poll a running child's exit for its
  // whole life, it is ended now, with its group, and its end is polled with
  // the timer: the owner sees an exit by SIGKILL and tears down as for any
  // other. No escalation follows.
  log::write(log::LogLevel::Error, "process", "",
             "Cannot watch the exit of process " + std::to_string(pid_) + " (" + uv_strerror(err) +
                 "); it is killed");
  ::kill(-pid_, SIGKILL);
  terminating_ = true;
  escalation_done_ = true;
  start_timer(&ChildProcess::on_unwatched_reap_timer, kUnwatchedReapIntervalMs, kUnwatchedReapIntervalMs);
}

void ChildProcess::on_unwatched_reap_timer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<ChildProcess*>(handle->data);
  int status = 0;
  pid_t r;
  do {
    r = ::waitpid(self->pid_, &status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == 0) return;  // not gone yet
  if (r < 0) {
    // ECHILD: the reaper thread (running for other children) took it and
    // keeps its status for a watch that will never come: drop that.
    ChildReaper::forget(self->pid_);
    status = SIGKILL;  // as waitpid reports a death by SIGKILL
  }
  (void)uv_timer_stop(handle);  // cannot fail: it only unlinks the timer
  self->on_child_reaped(status);
}

void ChildProcess::on_child_reaped(int wait_status) noexcept {
  watched_ = false;
  if (exited_) return;
  exited_ = true;
  owner_->on_child_exited(wait_status);
  if (terminating_ && group_is_empty()) {
    escalation_done_ = true;
    (void)uv_timer_stop(&timer_);
  }
  maybe_close();
}

bool ChildProcess::group_is_empty() const noexcept {
  return ::kill(-pid_, 0) != 0 && errno == ESRCH;
}

void ChildProcess::begin_termination(unsigned closems, bool stdin_closed) noexcept {
  if (terminating_) return;
  terminating_ = true;
  closems_ = closems;
  if (exited_ && group_is_empty()) {
    escalation_done_ = true;
    maybe_close();
    return;
  }
  if (stdin_closed) {
    schedule_next_step();
  } else {
    waiting_for_stdin_ = true;
    start_timer(&ChildProcess::on_escalation_timer, kStdinFlushTimeoutMs, 0);
  }
}

void ChildProcess::note_stdin_closed() noexcept {
  if (!waiting_for_stdin_) return;
  waiting_for_stdin_ = false;
  if (!escalation_done_) schedule_next_step();
}

void ChildProcess::schedule_next_step() noexcept {
  uint64_t delay = step_ < 3 ? kSteps[step_].base_delay_ms + uint64_t{closems_} : kKillReportDelayMs;
  start_timer(&ChildProcess::on_escalation_timer, delay, 0);
}

void ChildProcess::start_timer(uv_timer_cb callback, std::uint64_t delay_ms, std::uint64_t repeat_ms) noexcept {
  // Fails only for a timer being closed (UV_EINVAL): the watch is over then,
  // and there is nothing left to time.
  (void)uv_timer_start(&timer_, callback, delay_ms, repeat_ms);
}

void ChildProcess::on_escalation_timer(uv_timer_t* handle) noexcept {
  auto* self = static_cast<ChildProcess*>(handle->data);
  if (self->waiting_for_stdin_) {
    // The owner answers by closing stdin and calling note_stdin_closed(),
    // which schedules the first signal.
    self->owner_->on_stdin_flush_timeout();
    return;
  }
  if (self->group_is_empty() && self->exited_) {
    self->escalation_done_ = true;
    self->maybe_close();
    return;
  }
  if (self->step_ >= 3) {
    if (self->exited_ && !group_has_live_member(self->pid_)) {
      // Everything was killed; what is left are zombies of processes that
      // were re-parented (to init, or a subreaper) and are not ours to
      // reap. An init that reaps slowly leaves them for a while: not a
      // failure of SIGKILL, and nothing more to wait for.
      log::write(log::LogLevel::Debug, "process", "",
                 "Process group " + std::to_string(self->pid_) + " has only unreaped zombies left");
      self->escalation_done_ = true;
      self->maybe_close();
      return;
    }
    log::write(log::LogLevel::Error, "process", "",
               "SIGKILL did not terminate " + std::to_string(self->pid_) + "!");
    // Still watched: the exit will be reported when it comes.
    self->escalation_done_ = true;
    self->maybe_close();
    return;
  }
  const EscalationStep& step = kSteps[self->step_];
  if (::kill(-self->pid_, step.signal) != 0 && errno != ESRCH) {
    log::write(log::LogLevel::Error, "process", "",
               std::string(step.name) + " unsuccessful to " + std::to_string(self->pid_));
  } else if (log::enabled(log::LogLevel::Debug)) {
    log::write(log::LogLevel::Debug, "process", "",
               std::string("Sent ") + step.name + " to process group " + std::to_string(self->pid_));
  }
  ++self->step_;
  self->schedule_next_step();
}

void ChildProcess::close_when_done() noexcept {
  close_requested_ = true;
  maybe_close();
}

void ChildProcess::maybe_close() noexcept {
  if (closing_ || !close_requested_ || !exited_) return;
  if (terminating_ && !escalation_done_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), &ChildProcess::on_timer_closed);
}

void ChildProcess::on_timer_closed(uv_handle_t* handle) noexcept {
  static_cast<ChildProcess*>(handle->data)->owner_->on_child_closed();
}

}  // namespace wsbridge::proc
