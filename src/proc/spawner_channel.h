// The server's side of one request to a spawner process, every step bounded
// by one deadline: a spawner that is stopped (SIGSTOP, a debugger) or stuck
// must cost the connection that asked a bounded wait, not hang it and every
// pool thread after it.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string>
#include <sys/types.h>

#include "proc/spawner_protocol.h"

namespace wsbridge::proc::spawner_channel {

using Clock = std::chrono::steady_clock;

// What came back on a request's reply channel so far.
struct AnswersSeen {
  bool done = false;     // the spawner's last word arrived: error and pid below
  int error = 0;
  pid_t pid = -1;
  pid_t cloned = -1;     // the child said it exists (before its exec)
  int exec_error = 0;    // the child said its exec failed, and why
  bool closed = false;   // end of the channel: nobody can write on it any more
  // A record read in pieces (a stream may split it).
  char pending[sizeof(spawner_protocol::Answer)] = {};
  std::size_t pending_bytes = 0;
};

// Sends the request's four descriptors on the control socket. Returns 0,
// ETIMEDOUT, or the errno of the send (EPIPE: the spawner is gone).
[[nodiscard]] int send_descriptors(int control_fd, const int (&fds)[spawner_protocol::kRequestFds],
                                   Clock::time_point deadline) noexcept;

// Writes the request on its reply channel. Returns 0, ETIMEDOUT, or the
// errno of the write (the spawner may refuse a request, and close the
// channel, before reading all of it).
[[nodiscard]] int write_request(int channel_fd, const std::string& request, Clock::time_point deadline) noexcept;

// How far read_answers() goes: to the spawner's last answer (the usual
// exchange), or to the end of the channel, which comes once every process
// that held the channel has exec'd or exited (after the spawner was killed:
// what a child it started said before its exec).
enum class ReadUntil { SpawnerDone, ChannelClosed };

// Reads answers into `seen` until `until`, or the deadline. Returns 0, or
// ETIMEDOUT when the deadline came first.
[[nodiscard]] int read_answers(int channel_fd, AnswersSeen& seen, ReadUntil until,
                               Clock::time_point deadline) noexcept;

}  // namespace wsbridge::proc::spawner_channel
