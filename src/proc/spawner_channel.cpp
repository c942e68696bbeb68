#include "proc/spawner_channel.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

namespace wsbridge::proc::spawner_channel {
namespace {

using spawner_protocol::Answer;
using spawner_protocol::AnswerKind;

// Waits until `fd` is ready for `events` (or hung up: the next call says
// so) or the deadline has passed. Returns 0, ETIMEDOUT or an errno value.
int wait_until(int fd, short events, Clock::time_point deadline) noexcept {
  for (;;) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return ETIMEDOUT;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(left));
    if (n > 0) return 0;
    if (n < 0 && errno != EINTR) return errno;
  }
}

void take_answer(const Answer& answer, AnswersSeen& seen) noexcept {
  switch (answer.kind) {
    case AnswerKind::ChildCloned:
      seen.cloned = answer.pid;
      break;
    case AnswerKind::ChildExecFailed:
      seen.exec_error = answer.error != 0 ? answer.error : EIO;
      break;
    case AnswerKind::Done:
      seen.done = true;
      seen.error = answer.error;
      seen.pid = answer.pid;
      break;
    default:
      // Not from this program: treat the channel as ended.
      seen.closed = true;
      break;
  }
}

}  // namespace

int send_descriptors(int control_fd, const int (&fds)[spawner_protocol::kRequestFds],
                     Clock::time_point deadline) noexcept {
  char tag = 'S';
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  for (;;) {
    // Non-blocking: a stopped spawner leaves its queue full (ten requests).
    if (::sendmsg(control_fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT) >= 0) return 0;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    if (int err = wait_until(control_fd, POLLOUT, deadline); err != 0) return err;
  }
}

int write_request(int channel_fd, const std::string& request, Clock::time_point deadline) noexcept {
  std::size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = ::send(channel_fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) return errno;
    if (int err = wait_until(channel_fd, POLLOUT, deadline); err != 0) return err;
  }
  return 0;
}

int read_answers(int channel_fd, AnswersSeen& seen, ReadUntil until, Clock::time_point deadline) noexcept {
  while (!seen.closed && !(until == ReadUntil::SpawnerDone && seen.done)) {
    const ssize_t n = ::recv(channel_fd, seen.pending + seen.pending_bytes, sizeof seen.pending - seen.pending_bytes,
                             MSG_DONTWAIT);
    if (n > 0) {
      seen.pending_bytes += static_cast<std::size_t>(n);
      if (seen.pending_bytes == sizeof seen.pending) {
        Answer answer;
        std::memcpy(&answer, seen.pending, sizeof answer);
        seen.pending_bytes = 0;
        take_answer(answer, seen);
      }
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
      seen.closed = true;  // end of file, or reset: the same for us
      break;
    }
    if (int err = wait_until(channel_fd, POLLIN, deadline); err != 0) {
      if (err == ETIMEDOUT) return err;
      seen.closed = true;  // poll itself failed: nothing more will be read
    }
  }
  return 0;
}

}  // namespace wsbridge::proc::spawner_channel
