#include "net/room_fanout.h"

#include <new>

#include "log/logger.h"
#include "net/room_member.h"
#include "net/write_queue.h"
#include "wsbridge/ws/frame_encoder.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;
using cli::SlowClientPolicy;
// Slow-client drops and closes are logged at most this often per room.
constexpr std::uint64_t kSlowClientLogIntervalMs = 1000;
// Frames of one read that grew the buffer past this are not kept once sent.
constexpr std::size_t kKeepFramesCapacity = 1024 * 1024;
constexpr std::uint16_t kPolicyViolation = 1008;

}  // namespace

bool RoomFanout::add(RoomMember& member) noexcept {
  try {
    members_.push_back(&member);
    // A fan-out copies the list first: room for that copy now, so that
    // sending never allocates.
    sending_to_.reserve(members_.capacity());
  } catch (const std::bad_alloc&) {
    if (!members_.empty() && members_.back() == &member) members_.pop_back();
    return false;
  }
  ++context_.metrics.room_clients;
  replay_to(member);
  return true;
}

bool RoomFanout::remove(RoomMember& member) noexcept {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i] != &member) continue;
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    --context_.metrics.room_clients;
    return true;
  }
  return false;
}

bool RoomFanout::take_behind() noexcept {
  const bool behind = output_behind_;
  output_behind_ = false;
  return behind;
}

void RoomFanout::drop_frames() noexcept {
  frames_.reset();
  frame_messages_ = 0;
  frame_payload_bytes_ = 0;
}

bool RoomFanout::all_caught_up() const noexcept {
  for (RoomMember* member : members_) {
    if (member->listener().program_output_queued() > WriteQueue::kHighWaterMark) return false;
  }
  return true;
}

namespace {
// Appends one unmasked, uncompressed frame to `out` (may throw std::bad_alloc).
void append_server_frame(std::string& out, ws::Opcode opcode, std::string_view payload) {
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  const std::size_t header_size = ws::encode_frame_header(header, opcode, true, payload.size(), false);
  out.append(reinterpret_cast<char*>(header), header_size);
  out.append(payload);
}
}  // namespace

void RoomFanout::append_frame(bool binary, std::string_view payload) {
  // The block of the last read is reused when every queue is done with it.
  // (While frames of this read are in it, no queue has it yet.)
  std::string* frames = frame_messages_ != 0 ? frames_.unshared_bytes() : nullptr;
  if (frames == nullptr) frames = &frames_.rewrite();
  const std::size_t start = frames->size();
  append_server_frame(*frames, binary ? ws::Opcode::Binary : ws::Opcode::Text, payload);
  ++frame_messages_;
  frame_payload_bytes_ += payload.size();
  if (context_.config->room_replay != 0) keep_for_replay(start, payload.size());
}

void RoomFanout::keep_for_replay(std::size_t start, std::size_t payload_size) {
  replay_.push_back({std::string(frames_.view().substr(start)), payload_size});
  replay_bytes_ += replay_.back().frame.size();
  while (!replay_.empty() &&
         (replay_.size() > context_.config->room_replay || replay_bytes_ > kRoomReplayBytes)) {
    replay_bytes_ -= replay_.front().frame.size();
    replay_.pop_front();
  }
}

void RoomFanout::replay_to(RoomMember& member) noexcept {
  if (replay_.empty()) return;
  // A block of its own, for this one member: the kept frames are the
  // room's, and later messages may push them out while this one is queued.
  SharedBytes frames;
  std::size_t payload_bytes = 0;
  try {
    std::string& bytes = frames.rewrite();
    bytes.reserve(replay_bytes_);
    for (const KeptFrame& kept : replay_) {
      bytes += kept.frame;
      payload_bytes += kept.payload_size;
    }
  } catch (const std::bad_alloc&) {
    return;  // the joiner starts without the past
  }
  (void)member.listener().on_program_frames(frames, replay_.size(), payload_bytes);
}

bool RoomFanout::over_queue_limit(RoomMember& member, std::size_t size) const noexcept {
  return member.listener().program_output_queued() + size > context_.config->room_queue;
}

bool RoomFanout::send_to(RoomMember& member, const SharedBytes& frames, std::size_t messages, std::size_t payload_bytes,
                   SlowClients& slow) noexcept {
  SlowClientPolicy policy = context_.config->slow_client;
  // A relay cannot hold back a program on another instance: a slow client
  // of its own is closed rather than queued without bound.
  if (policy == SlowClientPolicy::Wait && relaying_) policy = SlowClientPolicy::Close;
  Program::Listener& client = member.listener();
  if (policy != SlowClientPolicy::Wait && over_queue_limit(member, frames.size())) {
    if (policy == SlowClientPolicy::Drop) {
      slow.dropped += messages;
    } else {
      ++slow.closed;
      client.on_program_closes_client(kPolicyViolation, "too slow");
    }
    return true;
  }
  // Only under wait does a slow member hold the program back.
  return client.on_program_frames(frames, messages, payload_bytes) || policy != SlowClientPolicy::Wait;
}

bool RoomFanout::send_frames() noexcept {
  if (frame_messages_ == 0) return true;
  SlowClients slow;
  bool all_keep_up = true;
  // A member closed for being slow leaves the room in the middle of this:
  // walk a copy (its capacity was reserved at join).
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) {
    all_keep_up = send_to(*member, frames_, frame_messages_, frame_payload_bytes_, slow) && all_keep_up;
  }
  sending_to_.clear();
  // Kept for the next read, which reuses it if no queue holds it by then;
  // one that a burst made large is not kept once no queue holds it.
  if (frames_.holders() == 1 && frames_.capacity() > kKeepFramesCapacity) frames_.reset();
  frame_messages_ = 0;
  frame_payload_bytes_ = 0;
  if (slow.dropped != 0 || slow.closed != 0) note_slow_clients(slow.dropped, slow.closed);
  return all_keep_up;
}

RoomMember* RoomFanout::find_member(std::string_view id) const noexcept {
  // A linear search: tagged lines are for programs that talk to few
  // clients at a time, and the common line (to all) does not search.
  for (RoomMember* member : members_) {
    if (member->id() == id) return member;
  }
  return nullptr;
}

bool RoomFanout::send_to_one(std::string_view line) {
  // --room-tagged: "ID<TAB>text" goes to the member with that connection id
  // only, as "text"; any other line to all.
  const std::size_t tab = line.find('\t');
  if (tab == std::string_view::npos) return false;
  const std::string_view id = line.substr(0, tab);
  // Connection ids are decimal numbers: a line addressed to one that is
  // not (or no longer) here is dropped, never shown to everyone.
  if (id.empty() || id.find_first_not_of("0123456789") != std::string_view::npos) return false;
  if (find_member(id) == nullptr) return true;
  // What came before goes first, to everyone: the order of lines holds.
  if (!send_frames()) output_behind_ = true;
  // Sending may have closed that member (too slow): look again.
  RoomMember* target = find_member(id);
  if (target == nullptr) return true;
  // A block too, reused once that member's queue is done with it: its
  // queue keeps a reference to what the socket does not take at once.
  const std::string_view text = line.substr(tab + 1);
  append_server_frame(unicast_frame_.rewrite(), ws::Opcode::Text, text);  // may throw: the caller catches
  SlowClients slow;
  if (!send_to(*target, unicast_frame_, 1, text.size(), slow)) output_behind_ = true;
  if (slow.dropped != 0 || slow.closed != 0) note_slow_clients(slow.dropped, slow.closed);
  return true;
}

void RoomFanout::note_slow_clients(std::uint64_t dropped, std::uint64_t closed) noexcept {
  context_.metrics.room_messages_dropped += dropped;
  context_.metrics.room_slow_clients_closed += closed;
  dropped_unsaid_ += dropped;
  closed_unsaid_ += closed;
  const std::uint64_t now = uv_now(loop_);
  if (said_at_ms_ == 0 || now - said_at_ms_ >= kSlowClientLogIntervalMs) say_slow_clients();
}

void RoomFanout::say_slow_clients() noexcept {
  if (dropped_unsaid_ == 0 && closed_unsaid_ == 0) return;
  said_at_ms_ = uv_now(loop_);
  log::write(LogLevel::Info, "room", log_fields_,
             "Slow clients (queue over --room-queue): " + std::to_string(dropped_unsaid_) +
                 " messages dropped, " + std::to_string(closed_unsaid_) + " clients closed");
  dropped_unsaid_ = 0;
  closed_unsaid_ = 0;
}

}  // namespace wsbridge::net
