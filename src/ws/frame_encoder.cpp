// Server frames: never masked (§5.1), always the shortest length form.
#include "wsbridge/ws/frame_encoder.h"

namespace wsbridge::ws {

std::size_t encode_frame_header(std::uint8_t* out, Opcode opcode, bool fin,
                                std::uint64_t payload_length, bool compressed) noexcept {
  out[0] = static_cast<std::uint8_t>((fin ? 0x80 : 0x00) | (compressed ? 0x40 : 0x00) |
                                     static_cast<std::uint8_t>(opcode));
  if (payload_length < 126) {
    out[1] = static_cast<std::uint8_t>(payload_length);
    return 2;
  }
  if (payload_length <= 0xFFFF) {
    out[1] = 126;
    out[2] = static_cast<std::uint8_t>(payload_length >> 8);
    out[3] = static_cast<std::uint8_t>(payload_length);
    return 4;
  }
  out[1] = 127;
  for (std::size_t k = 0; k < 8; ++k) {
    out[2 + k] = static_cast<std::uint8_t>(payload_length >> (56 - 8 * k));
  }
  return 10;
}

std::string encode_frame(Opcode opcode, bool fin, std::string_view payload, bool compressed) {
  std::uint8_t header[kMaxServerFrameHeaderSize];
  const std::size_t header_size = encode_frame_header(header, opcode, fin, payload.size(), compressed);
  std::string frame;
  frame.reserve(header_size + payload.size());
  frame.append(reinterpret_cast<const char*>(header), header_size);
  frame.append(payload);
  return frame;
}

std::string encode_close_payload(std::uint16_t code, std::string_view reason) {
  constexpr std::size_t kMaxReason = kMaxControlPayload - 2;
  if (reason.size() > kMaxReason) {
    // Back up over continuation bytes (10xxxxxx) so the cut falls before the
    // code point that straddles the limit; a half code point would make the
    // peer fail the connection with 1007.
    std::size_t cut = kMaxReason;
    while (cut > 0 && (static_cast<std::uint8_t>(reason[cut]) & 0xC0) == 0x80) --cut;
    reason = reason.substr(0, cut);
  }
  std::string payload;
  payload.reserve(2 + reason.size());
  payload.push_back(static_cast<char>(code >> 8));
  payload.push_back(static_cast<char>(code & 0xFF));
  payload.append(reason);
  return payload;
}

}  // namespace wsbridge::ws
