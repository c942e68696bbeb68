#include "net/room_member.h"

#include "net/room.h"
#include "wsbridge/ws/error.h"

namespace wsbridge::net {

RoomMember::~RoomMember() {
  if (room_ != nullptr && joined_) room_->leave(*this);
}

void RoomMember::start_output(Listener& listener) noexcept {
  listener_ = &listener;
  if (room_ == nullptr) return;
  joined_ = room_->join(*this);
  if (!joined_) listener.on_program_closes_client(ws::close_code::kInternalError, "out of memory");
}

void RoomMember::take_input(InputBatch& batch) noexcept {
  // The room's one stdin is corked for the batch: every message of this
  // client's read reaches the program in one write, each as whole lines.
  if (room_ != nullptr) {
    room_->take_input(batch);
  } else {
    batch.deliver_messages();  // each deliver() says the message is dropped
  }
}

bool RoomMember::deliver(bool binary, std::string_view payload) noexcept {
  return room_ != nullptr && room_->deliver_from(*this, binary, payload);
}

bool RoomMember::input_backlogged() const noexcept {
  return room_ != nullptr && room_->input_backlogged();
}

void RoomMember::stop() noexcept {
  // Once the room's output has ended, a session's stop() is only its bound
  // on a program that closed its output but runs on; the room applies that
  // bound itself and tells every member the real exit status
  // (on_room_ended), which the close frame reports.
  if (room_ != nullptr && room_->output_ended()) return;
  leave(0);
}

void RoomMember::resume_output() noexcept {
  if (room_ != nullptr) room_->on_member_drained();
}

void RoomMember::leave(int wait_status) noexcept {
  if (room_ != nullptr) {
    Room* room = room_;
    room_ = nullptr;
    if (joined_) room->leave(*this);
  }
  // The program goes on for the others; for this session it has ended.
  if (!ended_ && listener_ != nullptr) {
    ended_ = true;
    listener_->on_program_exited(wait_status);
  }
}

void RoomMember::on_room_ended(int wait_status) noexcept {
  room_ = nullptr;  // the room has let go of its members already
  leave(wait_status);
}

}  // namespace wsbridge::net
