// One WebSocketSession's place in a Room: the Program the session talks
// to. Messages go to the room's one stdin; output reaches the session from
// the room as frames already encoded. stop() is leaving: the room's program
// runs on for the others, and for this session it has ended
// (on_program_exited at once). It holds no handle, so release() frees
// nothing.
#pragma once
#include <string>

#include "net/program.h"

namespace wsbridge::net {

class Room;

class RoomMember final : public Program {
 public:
  // `id`: the connection's id (the log's id:'...'), for --room-tagged.
  RoomMember(Room& room, std::string id) noexcept : room_(&room), id_(std::move(id)) {}
  ~RoomMember();
  RoomMember(const RoomMember&) = delete;
  RoomMember& operator=(const RoomMember&) = delete;

  // Program
  void start_output(Listener& listener) noexcept override;
  void take_input(InputBatch& batch) noexcept override;
  bool deliver(bool binary, std::string_view payload) noexcept override;
  bool input_backlogged() const noexcept override;
  void resume_output() noexcept override;
  void stop() noexcept override;
  void release() noexcept override {}

  // For the Room.
  Listener& listener() noexcept { return *listener_; }
  const std::string& id() const noexcept { return id_; }
  // The room's program was reaped: this session's program has ended.
  void on_room_ended(int wait_status) noexcept;

 private:
  void leave(int wait_status) noexcept;

  Room* room_;  // null once left
  const std::string id_;
  Listener* listener_ = nullptr;
  bool joined_ = false;
  bool ended_ = false;
};

}  // namespace wsbridge::net
