// A broadcast room (--broadcast): one program shared by every client of one
// URL path. The room owns the program (a ProcessProgram, one child) and is
// its Listener; each client's WebSocketSession reaches it through its own
// RoomMember, so the session does not know its program is shared.
//
//   output: each stdout line goes to the members through the room's
//           RoomFanout (framed once, slow-client policy, replay); under
//           --slow-client=wait the room stops reading the program's stdout
//           until every member has caught up.
//   input:  every member's message is written to the one stdin as a whole
//           line, so two members' messages never interleave in a line.
//   end:    when the last member leaves (after --room-linger) the program
//           is stopped; when the program's output ends every member gets
//           the session's usual close; once it is reaped and its output
//           has ended (or no member is left), every member left hears
//           on_program_exited. The room leaves the table as soon as
//           it stops taking members (the next client starts a new room) and
//           is freed once its program's and timer's handles are closed.
//   cluster: with --room-broker a RoomLink decides where the program runs
//           (room_cluster.cpp). The owner runs it (launched by the room
//           itself, from the first client's launch details) and publishes
//           each output message; a relay runs none, fans out what the owner
//           published through the same member-facing code, and publishes
//           its members' messages for the owner's stdin. Until the claim is
//           answered (or while the program starts) members' messages wait
//           in the room, in order.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "net/child_launch.h"
#include "net/part_owner.h"
#include "net/process_program.h"
#include "net/program.h"
#include "net/room_fanout.h"
#include "net/room_link.h"
#include "net/server_context.h"
#include "proc/spawn.h"

namespace wsbridge::net {

class RoomBroker;
class RoomMember;
class RoomTable;

// What a room of the cluster runs when it comes to own the room.
struct RoomLaunchDetails {
  std::string path;
  std::vector<std::string> argv, env;
};

// Said to every client of the room when another instance's program took
// over from one that ended with its instance (a text message of its own).
inline constexpr std::string_view kRoomRestartedNotice = "wsbridge: the room's program restarted; its state is new";
// Members' messages a cluster room holds while it has no program or relay
// yet (the claim takes one round trip to the broker); past it they are
// dropped, as for a program that takes no more input.
constexpr std::size_t kRoomPendingInputBytes = 1024 * 1024;

class Room final : private Program::Listener, private RoomLink::Owner, private ChildLaunch::Owner {
 public:
  // `key`: the room's path; `log_fields`: its first client's, with room:'key'.
  Room(ServerContext& context, RoomTable& table, std::string key, std::string log_fields) noexcept;
  Room(const Room&) = delete;
  Room& operator=(const Room&) = delete;

  // Opens the linger timer on `loop` and takes the spawned child. Once.
  void start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept;
  // --room-broker: opens the linger timer and claims the room; the program
  // (if this instance comes to own the room) runs `details`. Once. False
  // when out of memory.
  [[nodiscard]] bool start_clustered(uv_loop_t* loop, RoomBroker& broker, RoomLaunchDetails details) noexcept;
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
  // The shared stdin (or, in a cluster room without a program here, the
  // broker): a member's read of messages, and whether to stop reading.
  void take_input(Program::InputBatch& batch) noexcept;
  bool input_backlogged() const noexcept;
  // A member's message to the program's stdin (with --room-tagged, after
  // its id and a tab). False when the program takes no more input.
  bool deliver_from(RoomMember& member, bool binary, std::string_view payload) noexcept;
  void on_member_drained() noexcept;

  // Server shutdown: a room lingering without members stops its program.
  void shut_down_for_server() noexcept;
  // Server shutdown deadline: SIGKILL the child's group and reap it.
  void kill_now() noexcept {
    if (program_started_) program_.kill_now();
  }

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
  // PartOwner: the program's pipes, the linger timer or the link's timer
  // are closed.
  void on_part_closed() noexcept override;

  // RoomLink::Owner (room_cluster.cpp)
  void on_link_owned(bool takeover) noexcept override;
  void on_link_relayed() noexcept override;
  void on_link_lease_lost() noexcept override;
  void on_link_unreachable() noexcept override;
  void on_link_relay_count(long long relays) noexcept override;
  void on_link_message(char kind, std::string_view payload) noexcept override;
  // ChildLaunch::Owner: the program of a cluster room has started (or not).
  void on_child_launched() noexcept override;
  // A cluster room's messages from members with no program or relay yet.
  bool hold_input(bool binary, std::string_view payload) noexcept;
  void pass_held_input() noexcept;
  // A relayed output message, fanned out like the program's own.
  void relay_output(bool binary, std::string_view payload) noexcept;
  // The owner's program ended: what a relay's members hear.
  void relay_program_end(std::string_view wait_status) noexcept;
  // Tells a message to the members here and to the cluster's other rooms.
  void say_to_everyone(std::string_view text) noexcept;
  // Closes every member with `code` (the room cannot serve them).
  void close_members(std::uint16_t code, std::string_view reason) noexcept;
  // The room cannot run: its members are closed, it takes no more.
  void give_up(std::uint16_t code, std::string_view reason) noexcept;

  void resume_when_caught_up() noexcept;
  // The last member left: stop the program now or after --room-linger.
  void on_empty() noexcept;
  // No client of the room is left in the whole cluster (or, without a
  // broker, here): stop now or after --room-linger.
  void on_everyone_left() noexcept;
  static void on_linger_over(uv_timer_t* timer) noexcept;
  // No more members: out of the table, the program stopped.
  void stop_taking_members() noexcept;
  // Once the program has exited and its output reached the members (or no
  // member is left): every member is told the program ended, the pipes and
  // the timer are closed.
  void finish_when_done() noexcept;

  ServerContext& context_;
  RoomTable& table_;
  const std::string key_;
  const std::string log_fields_;
  ProcessProgram program_;
  bool program_started_ = false;         // program_ holds a child (started once)
  std::unique_ptr<RoomLink> link_;       // --room-broker only
  RoomLaunchDetails launch_details_;     // --room-broker: what the owner runs
  std::unique_ptr<ChildLaunch> launch_;  // --room-broker: the program being started
  std::vector<std::pair<bool, std::string>> held_input_;
  std::size_t held_input_bytes_ = 0;
  long long relays_ = 0;                 // owner: other instances with clients, at the last renewal
  bool fenced_ = false;                  // owner: the lease was lost; the program is being killed
  uv_timer_t linger_timer_{};
  RoomFanout fanout_;  // the members and what reaches them
  std::uint8_t open_parts_ = 0;          // the program, the timers, a launch in flight
  bool output_paused_ = false;           // --slow-client=wait: a member is behind
  bool taking_members_ = true;
  bool output_failed_ = false;           // a line of this read could not be framed
  bool output_ended_ = false;            // stdout's end was relayed to the members
  bool exited_ = false;                  // the program was reaped...
  int wait_status_ = 0;                  // ...with this status
  bool finished_ = false;                // finish_when_done ran
};

}  // namespace wsbridge::net
