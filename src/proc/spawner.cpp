#include "proc/spawner.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "proc/spawner_channel.h"
#include "proc/spawner_helper.h"
#include "proc/spawner_protocol.h"

namespace wsbridge::proc {
namespace {

using spawner_channel::AnswersSeen;
using spawner_channel::ReadUntil;
namespace protocol = spawner_protocol;

// kFirstRespawnDelay doubled for each consecutive failure after the first,
// up to kMaxRespawnDelay.
std::chrono::milliseconds respawn_delay(unsigned failures) noexcept {
  auto delay = kFirstRespawnDelay;
  for (unsigned i = 1; i < failures && delay < kMaxRespawnDelay; ++i) delay *= 2;
  return std::min(delay, kMaxRespawnDelay);
}

// Builds the line, which needs memory, only when it is written; a line lost
// to an allocation failure is lost, and nothing else with it.
template <typename MakeText>
void log_server_line(log::LogLevel level, MakeText make_text) noexcept {
  if (!log::enabled(level)) return;
  try {
    log::write(level, "server", "", make_text());
  } catch (const std::bad_alloc&) {
  }
}

// What to make of a request's answers once nothing more will come: the
// child started, the errno of one that could not be, or -1 when no child
// was started at all (the caller may then start it itself).
int take_answers(const AnswersSeen& seen, ChildPipes& pipes, SpawnedChild& out) noexcept {
  if (seen.done) {
    if (seen.error == 0 && seen.pid > 0) return adopt_spawned_child(seen.pid, pipes, out);
    // The child exists only when its exec failed after the clone; it is ours
    // (CLONE_PARENT) and has exited already. A pid of 0 or -1 is never
    // signalled or waited for: those name our own group, or every process.
    if (seen.pid > 0) reap_child(seen.pid);
    pipes.close_parent_ends();
    return seen.error != 0 ? seen.error : EPROTO;
  }
  if (seen.cloned <= 0) {
    pipes.close_parent_ends();
    return -1;
  }
  // The spawner stopped answering after the clone: the child said so itself.
  if (seen.exec_error != 0) {
    reap_child(seen.cloned);  // it exits right after saying why
    pipes.close_parent_ends();
    return seen.exec_error;
  }
  // Its copy of the channel closed at exec: it runs the program. Starting it
  // again here would run the program twice for one connection.
  if (seen.closed) return adopt_spawned_child(seen.cloned, pipes, out);
  // Between clone and exec for the whole wait (stopped with its group, or an
  // exec stuck on a file system): end it; it is still ours to kill, unreaped.
  ::kill(seen.cloned, SIGKILL);
  reap_child(seen.cloned);
  pipes.close_parent_ends();
  return ETIMEDOUT;
}

}  // namespace

Spawner::~Spawner() { stop(); }

void Spawner::stop() noexcept {
  if (closing_.exchange(true)) return;
  std::shared_ptr<SpawnerHelper> helper;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    helper.swap(current_);
    pid_.store(-1);
  }
  // Ended now, not when the last spawn() lets go of it: a pool thread
  // waiting on it wakes with an error and, seeing closing_, gives up.
  if (helper) (void)helper->end();
}

int Spawner::start(pid_t server_pid) noexcept {
  std::shared_ptr<SpawnerHelper> helper;
  if (int err = SpawnerHelper::launch(server_pid, /*only_thread=*/true, helper); err != 0) return err;
  std::lock_guard<std::mutex> lock(mutex_);
  current_ = std::move(helper);
  server_pid_ = server_pid;
  pid_.store(current_->pid());
  return 0;
}

std::shared_ptr<SpawnerHelper> Spawner::current_helper() noexcept {
  std::lock_guard<std::mutex> lock(mutex_);
  if (current_ || server_pid_ < 0 || closing_.load() || Clock::now() < next_respawn_) return current_;
  // Forked from this pool thread, which the replacement's PR_SET_PDEATHSIG
  // then follows; libuv's pool threads live as long as the server. Other
  // spawns wait on the lock for the fork, once per failure at most.
  std::shared_ptr<SpawnerHelper> helper;
  if (int err = SpawnerHelper::launch(server_pid_, /*only_thread=*/false, helper); err != 0) {
    const auto delay = respawn_delay(failures_.fetch_add(1) + 1);
    next_respawn_ = Clock::now() + delay;
    log_server_line(log::LogLevel::Error, [&] {
      return std::string("Cannot start a new spawner process (") + std::strerror(err) +
             "); children are started by the server, next try in " + std::to_string(delay.count()) + " ms";
    });
    return nullptr;
  }
  current_ = helper;
  pid_.store(helper->pid());
  log_server_line(log::LogLevel::Info,
                  [&] { return "Started a new spawner process (pid " + std::to_string(helper->pid()) + ")"; });
  return helper;
}

void Spawner::retire(const std::shared_ptr<SpawnerHelper>& helper, Failure why, int err) noexcept {
  bool was_current = false;
  std::chrono::milliseconds delay{0};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (current_ == helper) {
      current_.reset();
      pid_.store(-1);
      was_current = true;
      delay = respawn_delay(failures_.fetch_add(1) + 1);
      next_respawn_ = Clock::now() + delay;
    }
  }
  // Killed and reaped before anyone reads what a reply channel still holds:
  // from here on nothing of it can answer, or start a child, any more.
  (void)helper->end();
  if (!was_current || closing_.load()) return;
  log_server_line(log::LogLevel::Error, [&] {
    std::string text = "The spawner process ";
    if (why == Failure::Hung) {
      text += "did not answer within " + std::to_string(kSpawnerAnswerWait.count()) + " ms and was killed (pid " +
              std::to_string(helper->pid()) + ")";
    } else {
      text += "is gone (pid " + std::to_string(helper->pid()) + ": " + std::strerror(err) + ")";
    }
    return text + "; children are started by the server until a new spawner runs, in " +
           std::to_string(delay.count()) + " ms";
  });
}

void Spawner::exchange(const std::shared_ptr<SpawnerHelper>& helper, int channel, const std::string& request,
                       Clock::time_point deadline, AnswersSeen& seen) noexcept {
  // The answers are read even when writing the request failed: the spawner
  // answers a request it refuses (E2BIG) without reading all of it.
  int err = spawner_channel::write_request(channel, request, deadline);
  if (err != ETIMEDOUT) err = spawner_channel::read_answers(channel, seen, ReadUntil::SpawnerDone, deadline);
  if (seen.done) {
    failures_.store(0);
    return;
  }
  // The channel ended unanswered while the spawner lives: it dropped the
  // request (no room for its descriptors). Whatever was said is read.
  if (err != ETIMEDOUT && !helper->hung_up()) return;
  retire(helper, err == ETIMEDOUT ? Failure::Hung : Failure::Gone, err == ETIMEDOUT ? err : EPIPE);
  // Only a child it started can hold the channel now, until its exec or
  // exit, and the first thing such a child does is write its pid there. A
  // child frozen before even that (its whole group stopped) is not seen.
  (void)spawner_channel::read_answers(channel, seen, ReadUntil::ChannelClosed, Clock::now() + kSpawnerAnswerWait);
}

int Spawner::start_here_instead(const SpawnerHelper& helper, const char* why, const std::string& path,
                                const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                SpawnedChild& out, const char* cwd) noexcept {
  if (closing_.load()) return ECANCELED;  // the server is exiting: start nothing new
  // A retired spawner was logged once, by retire(): not once per child.
  if (!helper.ended()) {
    log_server_line(log::LogLevel::Error, [&] {
      return std::string("The spawner did not take a request (") + why + "); this child is started by the server";
    });
  }
  return spawn_child(path, argv, env, out, cwd);
}

int Spawner::spawn(const std::string& path, const std::vector<std::string>& argv,
                   const std::vector<std::string>& env, SpawnedChild& out, const char* cwd) noexcept {
  if (closing_.load()) return ECANCELED;
  const std::shared_ptr<SpawnerHelper> helper = current_helper();
  if (!helper) return spawn_child(path, argv, env, out, cwd);
  std::string request;
  try {
    request = protocol::encode_request(path, argv, env, cwd);
  } catch (const std::bad_alloc&) {
    return ENOMEM;
  }
  ChildPipes pipes;
  if (int err = pipes.open(); err != 0) return err;
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    int err = errno;
    pipes.close_child_ends();
    pipes.close_parent_ends();
    return err;
  }
  const auto deadline = Clock::now() + kSpawnerAnswerWait;
  const int fds[protocol::kRequestFds] = {channel[1], pipes.child_stdin, pipes.child_stdout, pipes.child_stderr};
  static_assert(protocol::kReplyChannel == 0 && protocol::kChildStdin == 1 && protocol::kChildStdout == 2 &&
                protocol::kChildStderr == 3);
  const int send_error = spawner_channel::send_descriptors(helper->control_fd(), fds, deadline);
  // The spawner holds its own copies now (or will never need them).
  ::close(channel[1]);
  pipes.close_child_ends();
  if (send_error != 0) {
    ::close(channel[0]);
    pipes.close_parent_ends();
    if (send_error == ETIMEDOUT) {
      retire(helper, Failure::Hung, send_error);
    } else if (helper->hung_up()) {
      retire(helper, Failure::Gone, send_error);
    }
    return start_here_instead(*helper, std::strerror(send_error), path, argv, env, out, cwd);
  }
  AnswersSeen seen;
  exchange(helper, channel[0], request, deadline, seen);
  ::close(channel[0]);
  const int result = take_answers(seen, pipes, out);
  if (result >= 0) return result;
  return start_here_instead(*helper, "no answer", path, argv, env, out, cwd);
}

}  // namespace wsbridge::proc
