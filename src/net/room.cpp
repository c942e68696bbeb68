#include "net/room.h"

#include <new>

#include "log/logger.h"
#include "net/room_member.h"
#include "net/room_table.h"
#include "net/uv_cast.h"
#include "wsbridge/bridge/tagged_output.h"
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

Room::Room(ServerContext& context, RoomTable& table, std::string key, std::string log_fields) noexcept
    : context_(context),
      table_(table),
      key_(std::move(key)),
      log_fields_(std::move(log_fields)),
      program_(context, *this, log_fields_) {}

void Room::start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept {
  uv_timer_init(loop, &linger_timer_);
  linger_timer_.data = this;
  ++open_parts_;
  program_.start(loop, spawned, requested_at_ns);
  program_started_ = true;
  ++open_parts_;
  program_.start_output(*this);
  ++context_.metrics.rooms_open;
  log::write(LogLevel::Info, "room", log_fields_, "Room opened (pid " + std::to_string(spawned.pid) + ")");
}

bool Room::full() const noexcept {
  const unsigned most = context_.config->room_max_clients;
  return most != 0 && members_.size() >= most;
}

// ---------------------------------------------------------------- members

bool Room::join(RoomMember& member) noexcept {
  try {
    members_.push_back(&member);
    // A fan-out copies the list first: room for that copy now, so that
    // sending never allocates.
    sending_to_.reserve(members_.capacity());
  } catch (const std::bad_alloc&) {
    if (!members_.empty() && members_.back() == &member) members_.pop_back();
    return false;
  }
  uv_timer_stop(&linger_timer_);
  ++context_.metrics.room_clients;
  replay_to(member);
  if (context_.config->room_tagged) (void)deliver_from(member, false, "join");
  return true;
}

void Room::leave(RoomMember& member) noexcept {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i] != &member) continue;
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    --context_.metrics.room_clients;
    if (context_.config->room_tagged) (void)deliver_from(member, false, "leave");
    break;
  }
  if (members_.empty()) {
    on_empty();
    finish_when_done();
  } else {
    resume_when_caught_up();  // the one that left may have been the slowest
  }
}

void Room::on_empty() noexcept {
  // The owner of a cluster room keeps its program while other instances
  // have clients: its renewals count them (on_link_relay_count).
  if (link_ && link_->owner() && taking_members_ && !context_.shutting_down) return;
  on_everyone_left();
}

void Room::on_everyone_left() noexcept {
  if (uv_is_active(as_handle(&linger_timer_))) return;  // lingering already
  const unsigned linger_ms = context_.config->room_linger_ms;
  if (linger_ms == 0 || context_.shutting_down || !taking_members_) {
    stop_taking_members();
    return;
  }
  uv_timer_start(&linger_timer_, &Room::on_linger_over, linger_ms, 0);
}

void Room::on_linger_over(uv_timer_t* timer) noexcept {
  auto* room = static_cast<Room*>(timer->data);
  if (room->members_.empty() && room->relays_ == 0) room->stop_taking_members();
}

void Room::shut_down_for_server() noexcept {
  // Members are being closed by their own sessions; a lingering room has
  // none to wait for.
  if (members_.empty()) stop_taking_members();
}

void Room::stop_taking_members() noexcept {
  if (!taking_members_) return;
  taking_members_ = false;
  uv_timer_stop(&linger_timer_);
  table_.forget(*this);
  // An owner keeps its lease until its program is gone (finish_when_done).
  if (link_ && !link_->owner()) link_->release(false);
  if (program_started_) {
    program_.stop();
  } else if (!launch_) {
    exited_ = true;  // a cluster room with no program here: nothing to wait for
  }
}

void Room::on_member_drained() noexcept { resume_when_caught_up(); }

void Room::take_input(Program::InputBatch& batch) noexcept {
  if (program_started_) {
    program_.take_input(batch);
  } else {
    batch.deliver_messages();  // each to the broker, or held
  }
}

bool Room::input_backlogged() const noexcept { return program_started_ && program_.input_backlogged(); }

bool Room::deliver_from(RoomMember& member, bool binary, std::string_view payload) noexcept {
  if (!program_started_) {
    // A cluster room: the owner's program is elsewhere (or not started yet).
    if (link_ && !link_->owner() && link_->relaying()) {
      link_->publish(binary ? 'B' : 'T', payload);
      return true;
    }
    return hold_input(binary, payload);
  }
  // --room-tagged: the program sees who sent it, as "ID<TAB>message".
  if (context_.config->room_tagged) return program_.deliver_tagged(member.id(), binary, payload);
  return program_.deliver(binary, payload);
}

// --------------------------------------------------- program → members

void Room::append_frame(bool binary, std::string_view payload) {
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  const std::size_t header_size =
      ws::encode_frame_header(header, binary ? ws::Opcode::Binary : ws::Opcode::Text, true, payload.size(), false);
  frames_.append(reinterpret_cast<char*>(header), header_size);
  frames_.append(payload);
  ++frame_messages_;
  frame_payload_bytes_ += payload.size();
  if (context_.config->room_replay != 0) keep_for_replay(frames_.size() - header_size - payload.size(), payload.size());
}

void Room::keep_for_replay(std::size_t start, std::size_t payload_size) {
  replay_.push_back({frames_.substr(start), payload_size});
  replay_bytes_ += replay_.back().frame.size();
  while (!replay_.empty() &&
         (replay_.size() > context_.config->room_replay || replay_bytes_ > kRoomReplayBytes)) {
    replay_bytes_ -= replay_.front().frame.size();
    replay_.pop_front();
  }
}

void Room::replay_to(RoomMember& member) noexcept {
  if (replay_.empty()) return;
  std::string frames;
  std::size_t payload_bytes = 0;
  try {
    frames.reserve(replay_bytes_);
    for (const KeptFrame& kept : replay_) {
      frames += kept.frame;
      payload_bytes += kept.payload_size;
    }
  } catch (const std::bad_alloc&) {
    return;  // the joiner starts without the past
  }
  (void)member.listener().on_program_frames(frames, replay_.size(), payload_bytes);
}

void Room::on_program_line(std::string_view line, bool from_stderr) noexcept {
  if (output_failed_) return;
  try {
    line = bridge::output_message_text(line, from_stderr, context_.config->passstderr, context_.utf8_scratch);
    if (context_.config->room_tagged && !from_stderr && send_to_one(line)) return;
    append_frame(false, line);
    if (link_) link_->publish('T', line);
  } catch (const std::bad_alloc&) {
    output_failed_ = true;  // told to every member once the read is done
  }
}

void Room::on_program_chunk(std::string_view chunk) noexcept {
  if (output_failed_) return;
  try {
    append_frame(true, chunk);
    if (link_) link_->publish('B', chunk);
  } catch (const std::bad_alloc&) {
    output_failed_ = true;
  }
}

bool Room::on_program_output_done() noexcept {
  if (output_failed_) {
    output_failed_ = false;
    on_program_out_of_memory();
    return true;
  }
  const bool behind = !send_frames() || output_behind_;
  output_behind_ = false;
  if (!behind) return true;
  if (!output_paused_) ++context_.metrics.backpressure_pauses[static_cast<std::size_t>(metrics::Direction::ToClient)];
  output_paused_ = true;
  return false;
}

bool Room::over_queue_limit(RoomMember& member, std::size_t size) const noexcept {
  return member.listener().program_output_queued() + size > context_.config->room_queue;
}

bool Room::send_to(RoomMember& member, std::string_view frames, std::size_t messages, std::size_t payload_bytes,
                   SlowClients& slow) noexcept {
  SlowClientPolicy policy = context_.config->slow_client;
  // A relay cannot hold back a program on another instance: a slow client
  // of its own is closed rather than queued without bound.
  if (policy == SlowClientPolicy::Wait && link_ && !program_started_) policy = SlowClientPolicy::Close;
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

bool Room::send_frames() noexcept {
  if (frames_.empty()) return true;
  SlowClients slow;
  bool all_keep_up = true;
  // A member closed for being slow leaves the room in the middle of this:
  // walk a copy (its capacity was reserved at join).
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) {
    all_keep_up = send_to(*member, frames_, frame_messages_, frame_payload_bytes_, slow) && all_keep_up;
  }
  sending_to_.clear();
  frames_.clear();
  if (frames_.capacity() > kKeepFramesCapacity) std::string().swap(frames_);
  frame_messages_ = 0;
  frame_payload_bytes_ = 0;
  if (slow.dropped != 0 || slow.closed != 0) note_slow_clients(slow.dropped, slow.closed);
  return all_keep_up;
}

RoomMember* Room::find_member(std::string_view id) const noexcept {
  // A linear search: tagged lines are for programs that talk to few
  // clients at a time, and the common line (to all) does not search.
  for (RoomMember* member : members_) {
    if (member->id() == id) return member;
  }
  return nullptr;
}

bool Room::send_to_one(std::string_view line) {
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
  std::string& frame = context_.frame_scratch;
  frame.clear();
  const std::string_view text = line.substr(tab + 1);
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  const std::size_t header_size = ws::encode_frame_header(header, ws::Opcode::Text, true, text.size(), false);
  frame.append(reinterpret_cast<char*>(header), header_size);  // may throw: the caller catches
  frame.append(text);
  SlowClients slow;
  if (!send_to(*target, frame, 1, text.size(), slow)) output_behind_ = true;
  frame.clear();
  if (slow.dropped != 0 || slow.closed != 0) note_slow_clients(slow.dropped, slow.closed);
  return true;
}

void Room::resume_when_caught_up() noexcept {
  if (!output_paused_) return;
  for (RoomMember* member : members_) {
    if (member->listener().program_output_queued() > WriteQueue::kHighWaterMark) return;
  }
  output_paused_ = false;
  if (program_started_) program_.resume_output();
}

void Room::note_slow_clients(std::uint64_t dropped, std::uint64_t closed) noexcept {
  context_.metrics.room_messages_dropped += dropped;
  context_.metrics.room_slow_clients_closed += closed;
  dropped_unsaid_ += dropped;
  closed_unsaid_ += closed;
  const std::uint64_t now = uv_now(linger_timer_.loop);
  if (said_at_ms_ == 0 || now - said_at_ms_ >= kSlowClientLogIntervalMs) say_slow_clients();
}

void Room::say_slow_clients() noexcept {
  if (dropped_unsaid_ == 0 && closed_unsaid_ == 0) return;
  said_at_ms_ = uv_now(linger_timer_.loop);
  log::write(LogLevel::Info, "room", log_fields_,
             "Slow clients (queue over --room-queue): " + std::to_string(dropped_unsaid_) +
                 " messages dropped, " + std::to_string(closed_unsaid_) + " clients closed");
  dropped_unsaid_ = 0;
  closed_unsaid_ = 0;
}

void Room::on_program_out_of_memory() noexcept {
  frames_.clear();
  frame_messages_ = 0;
  frame_payload_bytes_ = 0;
  // As for a program of its own: each client is closed with 1011.
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) member->listener().on_program_out_of_memory();
  sending_to_.clear();
}

void Room::on_program_output_malformed(std::string_view reason) noexcept {
  // --framing: what was framed before the fault goes out first; then each
  // client is closed with 1011 and the reason, as with a program of its own.
  (void)send_frames();
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) member->listener().on_program_output_malformed(reason);
  sending_to_.clear();
}

void Room::on_program_output_end(int uv_status) noexcept {
  // The program writes no more (the rest of a line was sent): the next
  // client starts a new room, and every member gets the session's close.
  (void)send_frames();
  output_ended_ = true;
  stop_taking_members();  // and stops a program that closed its output but runs on
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) member->listener().on_program_output_end(uv_status);
  sending_to_.clear();
  finish_when_done();
}

// ---------------------------------------------------- members → program

void Room::on_program_input_drained() noexcept {
  for (RoomMember* member : members_) member->listener().on_program_input_drained();
}

// --------------------------------------------------------------- teardown

void Room::on_program_exited(int wait_status) noexcept {
  exited_ = true;
  wait_status_ = wait_status;
  // The other instances' clients hear the end too, unless the lease was
  // lost or the server is stopping (then the room is another instance's
  // to restart).
  if (link_ && link_->owner() && !fenced_ && !context_.shutting_down) {
    link_->publish('E', std::to_string(wait_status));
  }
  stop_taking_members();
  finish_when_done();
}

void Room::finish_when_done() noexcept {
  // Until its output has ended the pipes may still carry the program's last
  // lines (or a process it started keeps them open): they are closed once
  // the members have had them, or once no member is left to have them.
  if (!exited_ || finished_ || (!output_ended_ && !members_.empty())) return;
  finished_ = true;
  say_slow_clients();
  sending_to_.assign(members_.begin(), members_.end());
  for (std::size_t i = 0; i < members_.size(); ++i) --context_.metrics.room_clients;
  members_.clear();
  for (RoomMember* member : sending_to_) member->on_room_ended(wait_status_);
  sending_to_.clear();
  --context_.metrics.rooms_open;
  log::write(LogLevel::Info, "room", log_fields_, "Room closed");
  if (program_started_) program_.release();
  // The program is gone: the lease may go. A program that ended here (not
  // fenced, not stopped with the server) leaves it marked ended, so that
  // relays still closing their clients do not restart it.
  if (link_) link_->release(!fenced_ && !context_.shutting_down);
  uv_close(as_handle(&linger_timer_), [](uv_handle_t* handle) {
    static_cast<Room*>(handle->data)->on_part_closed();
  });
}

void Room::on_part_closed() noexcept {
  if (--open_parts_ == 0) table_.destroy(*this);
}

}  // namespace wsbridge::net
