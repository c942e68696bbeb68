// Room, continued: a room shared by the instances of a cluster
// (--room-broker). The RoomLink says whether this instance owns the room
// (runs the program, launched here from the first client's details) or
// relays it; the member-facing side (frames, slow clients, replay, close)
// is the room's own in both cases.
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/room.h"
#include "net/room_broker.h"
#include "net/room_member.h"
#include "net/room_table.h"
#include "proc/spawner.h"
#include "wsbridge/ws/error.h"

namespace wsbridge::net {

using log::LogLevel;

bool Room::start_clustered(uv_loop_t* loop, RoomBroker& broker, RoomLaunchDetails details) noexcept {
  launch_details_ = std::move(details);
  link_.reset(new (std::nothrow) RoomLink(broker, *this, key_));
  // The claim's answer comes from the loop, after the timer is open.
  if (!link_ || !link_->start(loop)) return false;
  ++open_parts_;  // the link's timer
  fanout_.set_loop(loop);
  uv_timer_init(loop, &linger_timer_);
  linger_timer_.data = this;
  ++open_parts_;
  ++context_.metrics.rooms_open;
  return true;
}

void Room::on_link_unreachable() noexcept {
  log::write(LogLevel::Error, "room", log_fields_, "Room broker did not answer the claim; closing the room's clients");
  give_up(ws::close_code::kInternalError, "room broker unavailable");
}

void Room::on_link_relayed() noexcept {
  fanout_.set_relaying(true);
  log::write(LogLevel::Info, "room", log_fields_, "Room relayed from another instance");
  pass_held_input();
}

void Room::on_link_owned(bool takeover) noexcept {
  if (!taking_members_ || launch_) return;
  log::write(LogLevel::Info, "room", log_fields_,
             takeover ? "Room taken over from an instance that ended" : "Room owned here");
  ++context_.metrics.room_lease_changes;
  if (takeover) say_to_everyone(kRoomRestartedNotice);
  auto launch = std::unique_ptr<ChildLaunch>(new (std::nothrow) ChildLaunch);
  try {
    if (!launch) throw std::bad_alloc();
    launch->path = launch_details_.path;
    launch->argv = launch_details_.argv;
    launch->env = launch_details_.env;
  } catch (const std::bad_alloc&) {
    give_up(ws::close_code::kInternalError, "out of memory");
    return;
  }
  if (!context_.take_fork_slot()) {
    log::write(LogLevel::Error, "room", log_fields_, "Room program not started: --maxforks reached");
    give_up(ws::close_code::kInternalError, "too many programs");
    return;
  }
  ++open_parts_;  // the launch in flight
  launch_ = std::move(launch);
  launch_->start(linger_timer_.loop, *context_.spawner, *this, context_.launches);
}

void Room::on_child_launched() noexcept {
  std::unique_ptr<ChildLaunch> launch = std::move(launch_);
  if (launch->error != 0 || !taking_members_ || fenced_) {
    context_.release_fork_slot();
    if (launch->error == 0) proc::discard_child(launch->child);
    if (launch->error != 0) {
      log::write(LogLevel::Error, "process", log_fields_,
                 "Could not launch process " + launch->path + " (" + std::strerror(launch->error) + ")");
    }
    give_up(ws::close_code::kInternalError, "could not launch the program");
    on_part_closed();
    return;
  }
  fanout_.set_relaying(false);
  program_.start(linger_timer_.loop, launch->child, uv_hrtime());
  program_started_ = true;
  program_.start_output(*this);
  log::write(LogLevel::Info, "room", log_fields_, "Room program started (pid " + std::to_string(launch->child.pid) + ")");
  pass_held_input();
  // The launch's part is now the program's (closed with its pipes).
}

void Room::on_link_lease_lost() noexcept {
  log::write(LogLevel::Error, "room", log_fields_,
             "Room lease not renewed in time (or taken by another instance); killing the program");
  fenced_ = true;
  ++context_.metrics.room_lease_changes;
  // SIGKILL: the usual signal sequence could outlast the lease.
  if (program_started_) program_.kill_now();
}

void Room::on_link_relay_count(long long relays) noexcept {
  relays_ = relays;
  if (fanout_.empty() && relays == 0 && taking_members_) on_everyone_left();
}

void Room::on_link_message(char kind, std::string_view payload) noexcept {
  if (link_->owner()) {
    // A relay's member's message, for this program's stdin.
    if (kind != 'T' && kind != 'B') return;
    if (program_started_) {
      (void)program_.deliver(kind == 'B', payload);
    } else {
      (void)hold_input(kind == 'B', payload);
    }
    return;
  }
  if (kind == 'T' || kind == 'B') {
    relay_output(kind == 'B', payload);
  } else if (kind == 'E') {
    relay_program_end(payload);
  }
}

void Room::relay_output(bool binary, std::string_view payload) noexcept {
  try {
    fanout_.append_frame(binary, payload);
  } catch (const std::bad_alloc&) {
    on_program_out_of_memory();
    return;
  }
  // A relay cannot hold back the owner's program: under --slow-client=wait
  // the fan-out closes a member that falls behind (RoomFanout::send_to).
  (void)fanout_.send_frames();
}

void Room::relay_program_end(std::string_view wait_status) noexcept {
  if (exited_) return;
  exited_ = true;
  wait_status_ = std::atoi(std::string(wait_status).c_str());
  on_program_output_end(0);  // every member here hears the end, then the status
}

void Room::say_to_everyone(std::string_view text) noexcept {
  try {
    fanout_.append_frame(false, text);
  } catch (const std::bad_alloc&) {
    return;
  }
  (void)fanout_.send_frames();
  link_->publish('T', text);
}

void Room::close_members(std::uint16_t code, std::string_view reason) noexcept {
  fanout_.tell_each([code, reason](RoomMember& member) { member.listener().on_program_closes_client(code, reason); });
}

void Room::give_up(std::uint16_t code, std::string_view reason) noexcept {
  close_members(code, reason);
  stop_taking_members();
  finish_when_done();
}

bool Room::hold_input(bool binary, std::string_view payload) noexcept {
  if (held_input_bytes_ + payload.size() > kRoomPendingInputBytes) return false;
  try {
    held_input_.emplace_back(binary, std::string(payload));
  } catch (const std::bad_alloc&) {
    return false;
  }
  held_input_bytes_ += payload.size();
  return true;
}

void Room::pass_held_input() noexcept {
  for (const auto& [binary, payload] : held_input_) {
    if (program_started_) {
      (void)program_.deliver(binary, payload);
    } else {
      link_->publish(binary ? 'B' : 'T', payload);
    }
  }
  held_input_.clear();
  held_input_bytes_ = 0;
}

}  // namespace wsbridge::net
