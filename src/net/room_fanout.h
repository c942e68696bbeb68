// The member-facing side of a Room: its members, and every output message
// on its way to them, whatever it comes from (the room's own program, or
// with --room-broker a relay of another instance's).
//
// Each message is framed ONCE into frames_ (append_frame), a block shared
// (SharedBytes) by every member's stream, and the frames gathered from one
// read go to every member (send_frames): the kernel takes what it can
// straight from the block, and what a socket refuses stays in it, that
// member's queue holding a reference rather than a copy, so N slow members
// hold one copy of the output, not N. The block is reused for the next read
// once no queue holds it. A TLS member cannot share ciphertext: its stream
// encrypts the frames for it alone. A member whose queue would pass --room-queue is
// closed with 1008 (--slow-client=close), skipped and counted (drop), or
// sent to anyway while send_frames reports it behind (wait: the room stops
// reading its program until all_caught_up). A relaying fan-out cannot hold
// a program back, so there wait acts as close. --room-replay keeps the last
// messages' frames for members that join; --room-tagged lines addressed to
// one member go to that member only (send_to_one).
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "net/server_context.h"
#include "net/shared_bytes.h"

namespace wsbridge::net {

class RoomMember;

// --room-replay keeps at most this many bytes of frames, however many
// messages it is asked for: the oldest go first.
constexpr std::size_t kRoomReplayBytes = 1024 * 1024;

class RoomFanout {
 public:
  // `log_fields`: the room's, for its slow-client lines (kept by the room).
  RoomFanout(ServerContext& context, const std::string& log_fields) noexcept
      : context_(context), log_fields_(log_fields) {}
  RoomFanout(const RoomFanout&) = delete;
  RoomFanout& operator=(const RoomFanout&) = delete;

  // The loop whose clock paces the slow-client log lines. Before any send.
  void set_loop(uv_loop_t* loop) noexcept { loop_ = loop; }
  // No program of this instance is behind the messages: wait acts as close.
  void set_relaying(bool relaying) noexcept { relaying_ = relaying; }

  // A member joins (and is sent the replay); false when out of memory.
  [[nodiscard]] bool add(RoomMember& member) noexcept;
  // False when `member` was not one.
  bool remove(RoomMember& member) noexcept;
  bool empty() const noexcept { return members_.empty(); }
  std::size_t size() const noexcept { return members_.size(); }

  // Frames one message for everyone (may throw std::bad_alloc).
  void append_frame(bool binary, std::string_view payload);
  // Sends what was framed to every member; false when (under wait) one is
  // behind.
  bool send_frames() noexcept;
  // --room-tagged: sends "ID<TAB>text" to that member only, or drops it
  // when that client has left (true); leaves a line that is not addressed
  // (no tab, or not a number before it) to all (false). May throw
  // std::bad_alloc.
  bool send_to_one(std::string_view line);
  // Whether a tagged line of this read found its member behind (then
  // forgotten).
  bool take_behind() noexcept;
  // What was framed of this read is dropped (out of memory).
  void drop_frames() noexcept;
  // Every member's stream is under its high-water mark.
  bool all_caught_up() const noexcept;
  // Calls tell(member) for each member, on a copy of the list: a member
  // may leave meanwhile.
  template <typename Tell>
  void tell_each(Tell tell) noexcept {
    sending_to_.assign(members_.begin(), members_.end());
    for (RoomMember* member : sending_to_) tell(*member);
    sending_to_.clear();
  }
  // The room has ended: every member is let go, then told so.
  template <typename Tell>
  void let_go_all(Tell tell) noexcept {
    sending_to_.assign(members_.begin(), members_.end());
    for (std::size_t i = 0; i < members_.size(); ++i) --context_.metrics.room_clients;
    members_.clear();
    for (RoomMember* member : sending_to_) tell(*member);
    sending_to_.clear();
  }
  // Logs the slow-client drops and closes not logged yet.
  void say_slow_clients() noexcept;

 private:
  struct SlowClients {
    std::uint64_t dropped = 0;  // messages
    std::uint64_t closed = 0;   // clients
  };
  // --room-replay: keeps the frame just appended (from `start` in frames_).
  void keep_for_replay(std::size_t start, std::size_t payload_size);
  // --room-replay: sends the kept frames to a member that just joined.
  void replay_to(RoomMember& member) noexcept;
  // Sends frames to one member under the slow-client policy. False when
  // (under wait) the member is behind.
  bool send_to(RoomMember& member, const SharedBytes& frames, std::size_t messages, std::size_t payload_bytes,
               SlowClients& slow) noexcept;
  RoomMember* find_member(std::string_view id) const noexcept;
  // True when the member's queue cannot take `size` more bytes.
  bool over_queue_limit(RoomMember& member, std::size_t size) const noexcept;
  // Slow-client drops and closes, logged at most once a second.
  void note_slow_clients(std::uint64_t dropped, std::uint64_t closed) noexcept;

  ServerContext& context_;
  const std::string& log_fields_;
  uv_loop_t* loop_ = nullptr;
  bool relaying_ = false;
  std::vector<RoomMember*> members_;
  std::vector<RoomMember*> sending_to_;  // members_ while a fan-out may change it
  // The frames of one read of output (frame_messages_ of them; the block
  // may still hold the last read's, sent, until the next read rewrites it).
  SharedBytes frames_;
  SharedBytes unicast_frame_;            // --room-tagged: a line for one member
  std::size_t frame_messages_ = 0;
  std::size_t frame_payload_bytes_ = 0;
  struct KeptFrame {
    std::string frame;
    std::size_t payload_size;
  };
  std::deque<KeptFrame> replay_;  // --room-replay: the last messages' frames
  std::size_t replay_bytes_ = 0;
  bool output_behind_ = false;    // a tagged line of this read found its member behind
  std::uint64_t dropped_unsaid_ = 0;  // since the last log line
  std::uint64_t closed_unsaid_ = 0;
  std::uint64_t said_at_ms_ = 0;
};

}  // namespace wsbridge::net
