// Sans-IO encoder of server-to-client frames (never masked, RFC 6455 §5.1).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "wsbridge/ws/frame.h"

namespace wsbridge::ws {

// Writes a frame header for a payload of payload_length bytes into out and
// returns the header's length (2, 4 or 10 bytes). Uses the shortest length form.
// compressed sets RSV1: the first frame of a permessage-deflate message.
std::size_t encode_frame_header(std::uint8_t* out, Opcode opcode, bool fin,
                                std::uint64_t payload_length, bool compressed = false) noexcept;

// A whole frame (header + payload) as one string; for control frames and tests.
std::string encode_frame(Opcode opcode, bool fin, std::string_view payload, bool compressed = false);

// The payload of a close frame: 2-byte big-endian code + reason. The reason is
// cut (at a UTF-8 boundary) so the payload stays within 125 bytes.
std::string encode_close_payload(std::uint16_t code, std::string_view reason);

}  // namespace wsbridge::ws
