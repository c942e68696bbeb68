// A broadcast room (--broadcast): one program shared by every client of one
// URL path. The room owns the program (a ProcessProgram, one child) and is
// its Listener; each client's WebSocketSession reaches it through its own
// RoomMember, so the session does not know its program is shared.
//
//   output: each stdout line is framed ONCE into frames_, a block shared
//           (SharedBytes) by every member's stream: the kernel takes what
//           it can straight from it, and what a socket refuses stays in the
//           block, its queue holding a reference rather than a copy, so N
//           slow members hold one copy of the output, not N. The block is
//           reused for the next read once no queue holds it. A TLS member
//           cannot share ciphertext: its stream encrypts the frames for it
//           alone, as for any output. A member whose queue would pass --room-queue is
//           closed with 1008 (--slow-client=close), skipped and counted
//           (drop), or waited for: the room stops reading the program's
//           stdout until every member's stream is under its high-water
//           mark (wait).
//   input:  every member's message is written to the one stdin as a whole
//           line, so two members' messages never interleave in a line.
//   end:    when the last member leaves (after --room-linger) the program
//           is stopped; when the program's output ends every member gets
//           the session's usual close; once it is reaped and its output
//           has ended (or no member is left), every member left hears
//           on_program_exited. The room leaves the table as soon as
//           it stops taking members (the next client starts a new room) and
//           is freed once its program's and timer's handles are closed.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <vector>

#include "net/part_owner.h"
#include "net/process_program.h"
#include "net/program.h"
#include "net/server_context.h"
#include "net/shared_bytes.h"
#include "proc/spawn.h"

namespace wsbridge::net {

class RoomMember;
class RoomTable;

// --room-replay keeps at most this many bytes of frames, however many
// messages it is asked for: the oldest go first.
constexpr std::size_t kRoomReplayBytes = 1024 * 1024;

class Room final : private Program::Listener, private PartOwner {
 public:
  // `key`: the room's path; `log_fields`: its first client's, with room:'key'.
  Room(ServerContext& context, RoomTable& table, std::string key, std::string log_fields) noexcept;
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  // Opens the linger timer on `loop` and takes the spawned child. Once.
  void start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept;
  const std::string& key() const noexcept { return key_; }
  // --room-max-clients reached.
  bool full() const noexcept;
  // The program's output has ended: its members wait for its exit status.
  bool output_ended() const noexcept { return output_ended_; }

  // For RoomMember: joining (false when out of memory) and leaving (from
  // start_output and stop), the shared stdin, and a member's stream having
  // drained.
  [[nodiscard]] bool join(RoomMember& member) noexcept;
  void leave(RoomMember& member) noexcept;
  ProcessProgram& program() noexcept { return program_; }
  // A member's message to the program's stdin (with --room-tagged, after
  // its id and a tab). False when the program takes no more input.
  bool deliver_from(RoomMember& member, bool binary, std::string_view payload) noexcept;
  void on_member_drained() noexcept;

  // Server shutdown: a room lingering without members stops its program.
  void shut_down_for_server() noexcept;
  // Server shutdown deadline: SIGKILL the child's group and reap it.
  void kill_now() noexcept { program_.kill_now(); }

 private:
  // Program::Listener (from the room's ProcessProgram)
  void on_program_line(std::string_view line, bool from_stderr) noexcept override;
  void on_program_chunk(std::string_view chunk) noexcept override;
  bool on_program_output_done() noexcept override;
  void on_program_output_end(int uv_status) noexcept override;
  void on_program_out_of_memory() noexcept override;
  void on_program_output_malformed(std::string_view reason) noexcept override;
  void on_program_input_drained() noexcept override;
  void on_program_exited(int wait_status) noexcept override;
  // Never called: the room's own program frames nothing for it.
  bool on_program_frames(const SharedBytes&, std::size_t, std::size_t) noexcept override { return true; }
  std::size_t program_output_queued() const noexcept override { return 0; }
  void on_program_closes_client(std::uint16_t, std::string_view) noexcept override {}
  // PartOwner: the program's pipes or the linger timer are closed.
  void on_part_closed() noexcept override;

  // Appends one message's frame to frames_, starting a fresh block for the
  // first message of a read (may throw std::bad_alloc).
  void append_frame(bool binary, std::string_view payload);
  // --room-replay: keeps the frame just appended (from `start` in frames_).
  void keep_for_replay(std::size_t start, std::size_t payload_size);
  // --room-replay: sends the kept frames to a member that just joined.
  void replay_to(RoomMember& member) noexcept;
  struct SlowClients {
    std::uint64_t dropped = 0;  // messages
    std::uint64_t closed = 0;   // clients
  };
  // Sends frames to one member under the slow-client policy. False when
  // (under wait) the member is behind.
  bool send_to(RoomMember& member, const SharedBytes& frames, std::size_t messages, std::size_t payload_bytes,
               SlowClients& slow) noexcept;
  // Sends frames_ to every member; false when (under wait) one is behind.
  bool send_frames() noexcept;
  // --room-tagged: sends "ID<TAB>text" to that member only, or drops it
  // when that client has left (true); leaves a line that is not addressed
  // (no tab, or not a number before it) to all (false). May throw
  // std::bad_alloc.
  bool send_to_one(std::string_view line);
  RoomMember* find_member(std::string_view id) const noexcept;
  // True when the member's queue cannot take `size` more bytes.
  bool over_queue_limit(RoomMember& member, std::size_t size) const noexcept;
  void resume_when_caught_up() noexcept;
  // The last member left: stop the program now or after --room-linger.
  void on_empty() noexcept;
  static void on_linger_over(uv_timer_t* timer) noexcept;
  // No more members: out of the table, the program stopped.
  void stop_taking_members() noexcept;
  // Slow-client drops and closes, logged at most once a second.
  void note_slow_clients(std::uint64_t dropped, std::uint64_t closed) noexcept;
  void say_slow_clients() noexcept;
  // Once the program has exited and its output reached the members (or no
  // member is left): every member is told the program ended, the pipes and
  // the timer are closed.
  void finish_when_done() noexcept;

  ServerContext& context_;
  RoomTable& table_;
  const std::string key_;
  const std::string log_fields_;
  ProcessProgram program_;
  uv_timer_t linger_timer_{};
  std::vector<RoomMember*> members_;
  std::vector<RoomMember*> sending_to_;  // members_ while a fan-out may change it
  // The frames of one read of output (frame_messages_ of them; the block
  // may still hold the last read's, sent, until the next read rewrites it).
  SharedBytes frames_;
  SharedBytes unicast_frame_;            // --room-tagged: a line for one member
  struct KeptFrame {
    std::string frame;
    std::size_t payload_size;
  };
  std::deque<KeptFrame> replay_;         // --room-replay: the last messages' frames
  std::size_t replay_bytes_ = 0;
  std::size_t frame_messages_ = 0;
  std::size_t frame_payload_bytes_ = 0;
  std::uint64_t dropped_unsaid_ = 0;     // since the last log line
  std::uint64_t closed_unsaid_ = 0;
  std::uint64_t said_at_ms_ = 0;
  std::uint8_t open_parts_ = 0;          // the program and the timer
  bool output_paused_ = false;           // --slow-client=wait: a member is behind
  bool output_behind_ = false;           // a tagged line of this read found its member behind
  bool taking_members_ = true;
  bool output_failed_ = false;           // a line of this read could not be framed
  bool output_ended_ = false;            // stdout's end was relayed to the members
  bool exited_ = false;                  // the program was reaped...
  int wait_status_ = 0;                  // ...with this status
  bool finished_ = false;                // finish_when_done ran
};

}  // namespace wsbridge::net
