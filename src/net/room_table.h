// The rooms of one event loop (--broadcast runs one), by key: the URL path
// (with --dir, the script's path and PATH_INFO), query string excluded. It
// owns every room until the room's handles are closed; only rooms still
// taking members can be found.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "net/room.h"
#include "net/server_context.h"
#include "proc/spawn.h"

namespace wsbridge::net {

class RoomTable {
 public:
  explicit RoomTable(ServerContext& context) noexcept : context_(context) {}

  // The room of `key` that takes members, or null.
  Room* find(const std::string& key) const noexcept;
  // A new room for `key` running `spawned`; null when out of memory (the
  // child is not taken then).
  Room* open(const std::string& key, const std::string& log_fields, uv_loop_t* loop,
             const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns) noexcept;
  // --room-broker: a new room for `key` that claims it in the cluster and,
  // if it comes to own it, runs `details`; null when out of memory.
  Room* open_clustered(const std::string& key, const std::string& log_fields, uv_loop_t* loop,
                       RoomBroker& broker, RoomLaunchDetails details) noexcept;
  // A client's launch is starting the first program of `key`: other
  // clients of that key wait for the room instead of starting a second
  // program. False when out of memory (they would then start their own,
  // and all but the first end as before).
  [[nodiscard]] bool begin_opening(const std::string& key) noexcept;
  // That launch has ended, whatever its outcome (the room is open by now,
  // or it failed and a waiting client starts its own).
  void end_opening(const std::string& key) noexcept;
  bool opening(const std::string& key) const noexcept { return opening_.count(key) != 0; }
  // For Room: it takes no more members (find no longer returns it).
  void forget(Room& room) noexcept;
  // For Room: its handles are closed; frees it.
  void destroy(Room& room) noexcept;
  // Server shutdown: rooms lingering without members stop their programs.
  void shut_down_for_server() noexcept;
  // Server shutdown deadline: SIGKILL every room's program.
  void kill_all_now() noexcept;

 private:
  // A new room taking members under `key` (not started); null when out of
  // memory.
  Room* add(const std::string& key, const std::string& log_fields) noexcept;

  ServerContext& context_;
  std::unordered_map<std::string, Room*> taking_members_;
  std::unordered_set<std::string> opening_;
  std::vector<std::unique_ptr<Room>> rooms_;
};

}  // namespace wsbridge::net
