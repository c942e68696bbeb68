// HttpExchange, continued: --broadcast. A request for a room's path joins
// the room's running program; the first client of a path starts it, and
// clients arriving while that program is being started wait for the room
// (polling every kRoomWaitTickMs) instead of starting a second program.
#include <new>

#include "log/logger.h"
#include "net/http_exchange.h"
#include "net/room_broker.h"
#include "net/room_table.h"
#include "wsbridge/ws/deflate_negotiation.h"

namespace wsbridge::net {

using log::LogLevel;

namespace {
// A room's program normally starts within milliseconds; the wait for it is
// bounded like a request head (kRequestTimeoutMs).
constexpr std::uint64_t kRoomWaitTickMs = 10;
}  // namespace

bool HttpExchange::choose_room(const http::Request& request, const route::Route& route) noexcept {
  // --room-broker: without the broker no instance can know who runs the
  // room, so none starts a program for it.
  if (context_.broker != nullptr && !context_.broker->available()) {
    log::write(LogLevel::Error, "session", log_fields_, "Room broker unavailable, upgrade rejected");
    refuse(http::Refusal::RoomBrokerUnavailable);
    return false;
  }
  try {
    // With --dir the room is the script and its PATH_INFO, otherwise the
    // URL path; the query string is not part of it.
    room_key_ = route.kind == route::RouteKind::WebSocketScript ? route.script_name + route.path_info : request.path;
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
    return false;
  }
  const Room* room = context_.rooms->find(room_key_);
  // A room being opened by another client's launch counts as running.
  if (room == nullptr) return context_.rooms->opening(room_key_) || !refuse_when_out_of_forks(kNoForkLeft);
  return !refuse_when_room_full(*room);
}

bool HttpExchange::refuse_when_room_full(const Room& room) noexcept {
  if (!room.full()) return false;
  log::write(LogLevel::Access, "session", log_fields_, "Room " + room.key() + " is full, upgrade rejected");
  refuse(http::Refusal::RoomFull);
  return true;
}

void HttpExchange::wait_for_room(const route::Route& route, const std::string& remote_host, char* rest,
                                 std::size_t rest_size) noexcept {
  try {
    room_wait_ = std::make_unique<RoomWait>(RoomWait{route, remote_host, std::string(rest, rest_size), 0});
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  stream_.pause_reading(ClientStream::kHeldForProgram);
  stream_.start_timer(kRoomWaitTickMs);
}

void HttpExchange::on_room_wait_tick() noexcept {
  std::unique_ptr<RoomWait> wait = std::move(room_wait_);
  if (Room* room = context_.rooms->find(room_key_)) {
    join_room(*room, wait->early_bytes.data(), wait->early_bytes.size());
    return;
  }
  if (!context_.rooms->opening(room_key_)) {
    // The launch that was opening it failed, or its client left: this
    // client starts the room's program itself.
    launch_child(wait->route, wait->remote_host, wait->early_bytes.data(), wait->early_bytes.size());
    return;
  }
  if (++wait->ticks * kRoomWaitTickMs >= kRequestTimeoutMs) {
    log::write(LogLevel::Error, "room", log_fields_, "Room " + room_key_ + " did not open in time");
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  room_wait_ = std::move(wait);
  stream_.start_timer(kRoomWaitTickMs);
}

void HttpExchange::open_room(proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept {
  // Another client of the same path may have opened the room while this
  // child was starting: join that one and end this child, so that a room
  // has one program.
  Room* room = context_.rooms->find(room_key_);
  if (room == nullptr) {
    room = context_.rooms->open(room_key_, log_fields_, stream_.loop(), spawned, request_completed_ns_);
    if (room == nullptr) {
      context_.release_fork_slot();
      proc::discard_child(spawned);
      refuse(http::Refusal::ShortOfResources);
      return;
    }
  } else {
    context_.release_fork_slot();
    proc::discard_child(spawned);
  }
  join_room(*room, rest, rest_size);
}

void HttpExchange::open_clustered_room(const route::Route& route, const std::string& remote_host, char* rest,
                                       std::size_t rest_size) noexcept {
  RoomLaunchDetails details;
  try {
    describe_launch(route, remote_host, details.path, details.argv, details.env);
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  Room* room = context_.rooms->open_clustered(room_key_, log_fields_, stream_.loop(), *context_.broker,
                                              std::move(details));
  if (room == nullptr) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  join_room(*room, rest, rest_size);
}

void HttpExchange::join_room(Room& room, char* rest, std::size_t rest_size) noexcept {
  if (refuse_when_room_full(room)) return;
  std::string response;
  ws::DeflateNegotiation deflate;
  const bool ready = make_upgrade_response(response, deflate);
  const ws::DeflateParameters* agreed = deflate.accepted ? &deflate.parameters : nullptr;
  if (!ready || !owner_.join_room(room, std::to_string(unique_id_), response, agreed, rest, rest_size)) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  parser_.reset();
}

}  // namespace wsbridge::net
