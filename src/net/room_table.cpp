#include "net/room_table.h"

#include <algorithm>
#include <new>

#include "log/logger.h"

namespace wsbridge::net {

Room* RoomTable::find(const std::string& key) const noexcept {
  auto found = taking_members_.find(key);
  return found == taking_members_.end() ? nullptr : found->second;
}

Room* RoomTable::add(const std::string& key, const std::string& log_fields) noexcept {
  try {
    std::string fields = log_fields;
    log::append_field(fields, "room", key);
    auto owned = std::make_unique<Room>(context_, *this, key, std::move(fields));
    rooms_.reserve(rooms_.size() + 1);
    taking_members_.emplace(key, owned.get());
    Room* room = owned.get();
    rooms_.push_back(std::move(owned));  // cannot throw: reserved
    return room;
  } catch (const std::bad_alloc&) {
    return nullptr;
  }
}

Room* RoomTable::open_clustered(const std::string& key, const std::string& log_fields, uv_loop_t* loop,
                                RoomBroker& broker, RoomLaunchDetails details) noexcept {
  Room* room = add(key, log_fields);
  if (room == nullptr) return nullptr;
  if (!room->start_clustered(loop, broker, std::move(details))) {
    destroy(*room);
    return nullptr;
  }
  return room;
}

Room* RoomTable::open(const std::string& key, const std::string& log_fields, uv_loop_t* loop,
                      const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept {
  Room* room = add(key, log_fields);
  if (room == nullptr) return nullptr;
  room->start(loop, spawned, requested_at_ns);
  return room;
}

bool RoomTable::begin_opening(const std::string& key) noexcept {
  try {
    return opening_.insert(key).second;
  } catch (const std::bad_alloc&) {
    return false;
  }
}

void RoomTable::end_opening(const std::string& key) noexcept { opening_.erase(key); }

void RoomTable::forget(Room& room) noexcept {
  auto found = taking_members_.find(room.key());
  if (found != taking_members_.end() && found->second == &room) taking_members_.erase(found);
}

void RoomTable::destroy(Room& room) noexcept {
  forget(room);
  auto owned = std::find_if(rooms_.begin(), rooms_.end(), [&room](const auto& r) { return r.get() == &room; });
  if (owned != rooms_.end()) rooms_.erase(owned);
}

void RoomTable::shut_down_for_server() noexcept {
  for (auto& room : rooms_) room->shut_down_for_server();
}

void RoomTable::kill_all_now() noexcept {
  for (auto& room : rooms_) room->kill_now();
}

}  // namespace wsbridge::net
