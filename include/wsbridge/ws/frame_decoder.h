// Sans-IO decoder of client-to-server frames. It enforces the rules of a
// single frame (mask, RSV bits, opcode, control-frame limits); the order of
// frames within a message is MessageReader's job.
#pragma once
#include <cstddef>
#include <cstdint>

#include "wsbridge/ws/error.h"
#include "wsbridge/ws/frame.h"

namespace wsbridge::ws {

class FrameDecoder {
 public:
  enum class EventKind : std::uint8_t {
    NeedMore,    // all input consumed; feed more bytes
    FrameStart,  // header() is the new frame's header (payload may be empty)
    Payload,     // data/size: the next unmasked payload bytes of the current frame
    FrameEnd,    // the current frame's payload is complete
    Error,       // error: the stream is broken; stop feeding
  };
  struct Event {
    EventKind kind = EventKind::NeedMore;
    FrameHeader header{};          // FrameStart
    std::uint8_t* data = nullptr;  // Payload: points into the caller's buffer
    std::size_t size = 0;          // Payload
    ProtocolError error = ProtocolError::None;  // Error
  };

  // require_mask: true for a server decoding client frames (RFC 6455 §5.1).
  explicit FrameDecoder(bool require_mask = true) noexcept : require_mask_(require_mask) {}

  // permessage-deflate was agreed: RSV1 is allowed on the first frame of a
  // data message (Text or Binary), never on a continuation or control frame
  // (RFC 7692 §6.1). RSV2 and RSV3 stay forbidden.
  void allow_compressed_messages() noexcept { compressed_allowed_ = true; }

  // Decodes the next event from data[0, size). `consumed` is set to the bytes
  // used; call again with the rest. Payload bytes are unmasked in place, so
  // the returned pointer is into `data` and stays valid as long as it does.
  // A header split across calls is buffered internally (at most 14 bytes).
  Event next(std::uint8_t* data, std::size_t size, std::size_t& consumed) noexcept;

 private:
  enum class State : std::uint8_t { Header, Payload, End, Failed };
  bool require_mask_;
  bool compressed_allowed_ = false;
  State state_ = State::Header;
  std::uint8_t header_buf_[kMaxFrameHeaderSize] = {};
  std::uint8_t header_have_ = 0;
  FrameHeader header_{};
  std::uint8_t mask_[4] = {};
  std::uint64_t payload_left_ = 0;
  std::uint64_t payload_offset_ = 0;  // position in the payload, for the mask phase
  ProtocolError error_ = ProtocolError::None;  // repeated by every call once Failed

  Event decode_header(std::uint8_t* data, std::size_t size, std::size_t& consumed) noexcept;
  ProtocolError check_header_prefix() const noexcept;
  std::size_t header_size_needed() const noexcept;
};

}  // namespace wsbridge::ws
