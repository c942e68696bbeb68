// RFC 6455 §5.2 frame vocabulary shared by the decoder and the encoder.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wsbridge::ws {

enum class Opcode : std::uint8_t {
  Continuation = 0x0,
  Text = 0x1,
  Binary = 0x2,
  Close = 0x8,
  Ping = 0x9,
  Pong = 0xA,
};

constexpr bool is_control(Opcode op) noexcept { return (static_cast<std::uint8_t>(op) & 0x8) != 0; }

// Longest frame header: 2 bytes + 8 bytes extended length + 4 bytes mask key.
constexpr std::size_t kMaxFrameHeaderSize = 14;
// Longest header the server writes (server frames are never masked).
constexpr std::size_t kMaxServerFrameHeaderSize = 10;
// RFC 6455 §5.5: control frame payloads are at most 125 bytes.
constexpr std::size_t kMaxControlPayload = 125;

struct FrameHeader {
  bool fin = false;
  Opcode opcode = Opcode::Continuation;
  bool masked = false;
  // RSV1: the message this frame starts is compressed (permessage-deflate,
  // RFC 7692 §6). Only ever set when the extension was agreed.
  bool compressed = false;
  std::uint64_t payload_length = 0;
};

}  // namespace wsbridge::ws
