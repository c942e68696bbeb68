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
  return true;
}

void Room::leave(RoomMember& member) noexcept {
  for (std::size_t i = 0; i < members_.size(); ++i) {
    if (members_[i] != &member) continue;
    members_.erase(members_.begin() + static_cast<std::ptrdiff_t>(i));
    --context_.metrics.room_clients;
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
  const unsigned linger_ms = context_.config->room_linger_ms;
  if (linger_ms == 0 || context_.shutting_down || !taking_members_) {
    stop_taking_members();
    return;
  }
  uv_timer_start(&linger_timer_, &Room::on_linger_over, linger_ms, 0);
}

void Room::on_linger_over(uv_timer_t* timer) noexcept {
  auto* room = static_cast<Room*>(timer->data);
  if (room->members_.empty()) room->stop_taking_members();
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
  program_.stop();
}

void Room::on_member_drained() noexcept { resume_when_caught_up(); }

// --------------------------------------------------- program → members

void Room::append_frame(bool binary, std::string_view payload) {
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  const std::size_t header_size =
      ws::encode_frame_header(header, binary ? ws::Opcode::Binary : ws::Opcode::Text, true, payload.size(), false);
  frames_.append(reinterpret_cast<char*>(header), header_size);
  frames_.append(payload);
  ++frame_messages_;
  frame_payload_bytes_ += payload.size();
}

void Room::on_program_line(std::string_view line, bool from_stderr) noexcept {
  if (output_failed_) return;
  try {
    append_frame(false, bridge::output_message_text(line, from_stderr, context_.config->passstderr,
                                                    context_.utf8_scratch));
  } catch (const std::bad_alloc&) {
    output_failed_ = true;  // told to every member once the read is done
  }
}

void Room::on_program_chunk(std::string_view chunk) noexcept {
  if (output_failed_) return;
  try {
    append_frame(true, chunk);
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
  if (send_frames()) return true;
  if (!output_paused_) ++context_.metrics.backpressure_pauses[static_cast<std::size_t>(metrics::Direction::ToClient)];
  output_paused_ = true;
  return false;
}

bool Room::over_queue_limit(RoomMember& member, std::size_t size) const noexcept {
  return member.listener().program_output_queued() + size > context_.config->room_queue;
}

bool Room::send_frames() noexcept {
  if (frames_.empty()) return !output_paused_;
  const SlowClientPolicy policy = context_.config->slow_client;
  const std::string_view frames(frames_);
  std::uint64_t dropped = 0;
  std::uint64_t closed = 0;
  bool all_keep_up = true;
  // A member closed for being slow leaves the room in the middle of this:
  // walk a copy (its capacity was reserved at join).
  sending_to_.assign(members_.begin(), members_.end());
  for (RoomMember* member : sending_to_) {
    Program::Listener& client = member->listener();
    if (policy != SlowClientPolicy::Wait && over_queue_limit(*member, frames.size())) {
      if (policy == SlowClientPolicy::Drop) {
        dropped += frame_messages_;
      } else {
        ++closed;
        client.on_program_closes_client(kPolicyViolation, "too slow");
      }
      continue;
    }
    all_keep_up = client.on_program_frames(frames, frame_messages_, frame_payload_bytes_) && all_keep_up;
  }
  sending_to_.clear();
  frames_.clear();
  if (frames_.capacity() > kKeepFramesCapacity) std::string().swap(frames_);
  frame_messages_ = 0;
  frame_payload_bytes_ = 0;
  if (dropped != 0 || closed != 0) note_slow_clients(dropped, closed);
  // Only under wait does a slow member hold the program back.
  return policy != SlowClientPolicy::Wait || all_keep_up;
}

void Room::resume_when_caught_up() noexcept {
  if (!output_paused_) return;
  for (RoomMember* member : members_) {
    if (member->listener().program_output_queued() > WriteQueue::kHighWaterMark) return;
  }
  output_paused_ = false;
  program_.resume_output();
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

void Room::on_program_output_end(int uv_status) noexcept {
  // The program writes no more (the rest of a line was sent): the next
  // client starts a new room, and every member gets the session's close.
  (void)send_frames();
  output_ended_ = true;
  stop_taking_members();
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
  program_.release();
  uv_close(as_handle(&linger_timer_), [](uv_handle_t* handle) {
    static_cast<Room*>(handle->data)->on_part_closed();
  });
}

void Room::on_part_closed() noexcept {
  if (--open_parts_ == 0) table_.destroy(*this);
}

}  // namespace wsbridge::net
