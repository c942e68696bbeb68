// Every way a client can break RFC 6455, as one named value each, and the one
// function that maps a violation to the close code the server answers with.
#pragma once
#include <cstdint>

namespace wsbridge::ws {

enum class ProtocolError : std::uint8_t {
  None = 0,
  // Frame-level violations (RFC 6455 §5.2, §5.5) → 1002.
  UnmaskedClientFrame,       // §5.1: a client MUST mask every frame
  ReservedBitsSet,           // RSV1-3 set with no extension negotiated
  UnknownOpcode,             // opcodes 3-7 and 11-15
  FragmentedControlFrame,    // control frame with FIN = 0
  ControlFrameTooLong,       // control frame payload > 125 bytes
  LengthTooLarge,            // 64-bit length with the most significant bit set
  // Message-level sequence violations (§5.4) → 1002.
  UnexpectedContinuation,    // continuation frame with no message in progress
  ExpectedContinuation,      // new data frame while a fragmented message is open
  // Close frame payload (§5.5.1, §7.4) → 1002, or 1007 for a bad reason.
  ClosePayloadTooShort,      // exactly one byte of payload
  InvalidCloseCode,          // a code §7.4 forbids on the wire
  InvalidCloseReasonUtf8,    // → 1007
  // Payload data → 1007.
  InvalidTextUtf8,           // text message that is not valid UTF-8
  InvalidCompressedData,     // permessage-deflate payload that does not inflate (RFC 7692 §8)
  // Resource limits → 1009.
  MessageTooBig,             // message longer than --maxmessage
  // Not the client's fault, but it ends the connection all the same → 1011.
  OutOfMemory,               // zlib's memory for inflating could not be had
};

// Close codes the server sends (RFC 6455 §7.4.1).
namespace close_code {
constexpr std::uint16_t kNormal = 1000;
constexpr std::uint16_t kGoingAway = 1001;
constexpr std::uint16_t kProtocolError = 1002;
constexpr std::uint16_t kNoStatus = 1005;       // never sent; "close frame had no code"
constexpr std::uint16_t kAbnormal = 1006;       // never sent; "no close frame at all"
constexpr std::uint16_t kInvalidPayload = 1007;
constexpr std::uint16_t kMessageTooBig = 1009;
constexpr std::uint16_t kInternalError = 1011;
}  // namespace close_code

// The close code for a violation: 1009 too big, 1007 bad UTF-8, 1002 otherwise.
std::uint16_t close_code_for(ProtocolError error) noexcept;

// A short English description for logs and close reasons, e.g. "unmasked client frame".
const char* describe(ProtocolError error) noexcept;

// True for a close code a peer may send on the wire (§7.4.1, §7.4.2):
// 1000-1003, 1007-1011, 3000-4999, plus 1012-1014, which IANA registered
// after the RFC. 1004-1006 and 1015 are reserved.
bool is_valid_close_code_on_wire(std::uint16_t code) noexcept;

}  // namespace wsbridge::ws
