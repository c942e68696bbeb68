#include "net/room.h"

#include <new>

#include "log/logger.h"
#include "net/room_member.h"
#include "net/room_table.h"
#include "net/uv_cast.h"
#include "wsbridge/bridge/tagged_output.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;
}  // namespace

Room::Room(ServerContext& context, RoomTable& table, std::string key, std::string log_fields) noexcept
    : context_(context),
      table_(table),
      key_(std::move(key)),
      log_fields_(std::move(log_fields)),
      program_(context, *this, log_fields_),
      fanout_(context, log_fields_) {}

void Room::start(uv_loop_t* loop, const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept {
  fanout_.set_loop(loop);
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
  return most != 0 && fanout_.size() >= most;
}

// ---------------------------------------------------------------- members

bool Room::join(RoomMember& member) noexcept {
  if (!fanout_.add(member)) return false;
  uv_timer_stop(&linger_timer_);
  if (context_.config->room_tagged) (void)deliver_from(member, false, "join");
  return true;
}

void Room::leave(RoomMember& member) noexcept {
  if (fanout_.remove(member) && context_.config->room_tagged) (void)deliver_from(member, false, "leave");
  if (fanout_.empty()) {
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
  if (room->fanout_.empty() && room->relays_ == 0) room->stop_taking_members();
}

void Room::shut_down_for_server() noexcept {
  // Members are being closed by their own sessions; a lingering room has
  // none to wait for.
  if (fanout_.empty()) stop_taking_members();
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




void Room::on_program_line(std::string_view line, bool from_stderr) noexcept {
  if (output_failed_) return;
  try {
    line = bridge::output_message_text(line, from_stderr, context_.config->passstderr, context_.utf8_scratch);
    if (context_.config->room_tagged && !from_stderr && fanout_.send_to_one(line)) return;
    fanout_.append_frame(false, line);
    if (link_) link_->publish('T', line);
  } catch (const std::bad_alloc&) {
    output_failed_ = true;  // told to every member once the read is done
  }
}

void Room::on_program_chunk(std::string_view chunk) noexcept {
  if (output_failed_) return;
  try {
    fanout_.append_frame(true, chunk);
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
  const bool sent_all = fanout_.send_frames();
  const bool behind = fanout_.take_behind() || !sent_all;
  if (!behind) return true;
  if (!output_paused_) ++context_.metrics.backpressure_pauses[static_cast<std::size_t>(metrics::Direction::ToClient)];
  output_paused_ = true;
  return false;
}






void Room::resume_when_caught_up() noexcept {
  if (!output_paused_ || !fanout_.all_caught_up()) return;
  output_paused_ = false;
  if (program_started_) program_.resume_output();
}

void Room::on_program_out_of_memory() noexcept {
  fanout_.drop_frames();
  // As for a program of its own: each client is closed with 1011.
  fanout_.tell_each([](RoomMember& member) { member.listener().on_program_out_of_memory(); });
}

void Room::on_program_output_malformed(std::string_view reason) noexcept {
  // --framing: what was framed before the fault goes out first; then each
  // client is closed with 1011 and the reason, as with a program of its own.
  (void)fanout_.send_frames();
  fanout_.tell_each([reason](RoomMember& member) { member.listener().on_program_output_malformed(reason); });
}

void Room::on_program_output_end(int uv_status) noexcept {
  // The program writes no more (the rest of a line was sent): the next
  // client starts a new room, and every member gets the session's close.
  (void)fanout_.send_frames();
  output_ended_ = true;
  stop_taking_members();  // and stops a program that closed its output but runs on
  fanout_.tell_each([uv_status](RoomMember& member) { member.listener().on_program_output_end(uv_status); });
  finish_when_done();
}

// ---------------------------------------------------- members → program

void Room::on_program_input_drained() noexcept {
  fanout_.tell_each([](RoomMember& member) { member.listener().on_program_input_drained(); });
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
  if (!exited_ || finished_ || (!output_ended_ && !fanout_.empty())) return;
  finished_ = true;
  fanout_.say_slow_clients();
  const int wait_status = wait_status_;
  fanout_.let_go_all([wait_status](RoomMember& member) { member.on_room_ended(wait_status); });
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
