// The single place where a protocol violation becomes a close code (design
// rule 3), so the connection code never has to know which error means what.
#include "wsbridge/ws/error.h"

namespace wsbridge::ws {

std::uint16_t close_code_for(ProtocolError error) noexcept {
  switch (error) {
    case ProtocolError::MessageTooBig:
      return close_code::kMessageTooBig;
    case ProtocolError::InvalidTextUtf8:
    case ProtocolError::InvalidCloseReasonUtf8:
    // RFC 7692 §8 only says to fail the connection. 1007 says what is
    // wrong (the data does not match the message's encoding), as node's ws
    // answers; 1002 would blame the framing, which was fine.
    case ProtocolError::InvalidCompressedData:
      return close_code::kInvalidPayload;
    case ProtocolError::OutOfMemory:
      return close_code::kInternalError;
    case ProtocolError::None:
      // Not a violation at all; a normal close is the only sensible answer.
      return close_code::kNormal;
    case ProtocolError::UnmaskedClientFrame:
    case ProtocolError::ReservedBitsSet:
    case ProtocolError::UnknownOpcode:
    case ProtocolError::FragmentedControlFrame:
    case ProtocolError::ControlFrameTooLong:
    case ProtocolError::LengthTooLarge:
    case ProtocolError::UnexpectedContinuation:
    case ProtocolError::ExpectedContinuation:
    case ProtocolError::ClosePayloadTooShort:
    case ProtocolError::InvalidCloseCode:
      break;
  }
  return close_code::kProtocolError;
}

const char* describe(ProtocolError error) noexcept {
  switch (error) {
    case ProtocolError::None: return "no error";
    case ProtocolError::UnmaskedClientFrame: return "unmasked client frame";
    case ProtocolError::ReservedBitsSet: return "reserved bits set";
    case ProtocolError::UnknownOpcode: return "unknown opcode";
    case ProtocolError::FragmentedControlFrame: return "fragmented control frame";
    case ProtocolError::ControlFrameTooLong: return "control frame too long";
    case ProtocolError::LengthTooLarge: return "frame length too large";
    case ProtocolError::UnexpectedContinuation: return "continuation frame without a message";
    case ProtocolError::ExpectedContinuation: return "expected a continuation frame";
    case ProtocolError::ClosePayloadTooShort: return "close payload too short";
    case ProtocolError::InvalidCloseCode: return "invalid close code";
    case ProtocolError::InvalidCloseReasonUtf8: return "invalid UTF-8 in close reason";
    case ProtocolError::InvalidTextUtf8: return "invalid UTF-8 in text message";
    case ProtocolError::InvalidCompressedData: return "invalid compressed data";
    case ProtocolError::MessageTooBig: return "message too big";
    case ProtocolError::OutOfMemory: return "out of memory";
  }
  // An out-of-range value can only come from a cast; say so rather than crash.
  return "unknown protocol error";
}

bool is_valid_close_code_on_wire(std::uint16_t code) noexcept {
  // RFC 6455 §7.4.1 defines 1000-1003 and 1007-1011; IANA's registry later
  // added 1012 (service restart), 1013 (try again later) and 1014 (bad
  // gateway), which real peers send (proxies, restarting servers), so they
  // are accepted too, as gorilla and python-websockets do and as the
  // Autobahn suite now expects (autobahn-testsuite #52, #88). 1004 is
  // reserved, and 1005, 1006 and 1015 "MUST NOT be set" in a close frame.
  if (code >= 1000 && code <= 1003) return true;
  if (code >= 1007 && code <= 1014) return true;
  // §7.4.2: 3000-3999 registered with IANA, 4000-4999 private use.
  return code >= 3000 && code <= 4999;
}

}  // namespace wsbridge::ws
