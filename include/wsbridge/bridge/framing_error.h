// What can be wrong with a program's output in an exact-boundary framing
// (--framing=nul or length). Either ends the connection with 1011 after
// every complete message before it has been sent: nothing framed is lost.
#pragma once
#include <cstdint>

namespace wsbridge::bridge {

enum class FramingError : std::uint8_t {
  None,
  MessageTooLong,  // a message (or a declared length) over --maxmessage
  TruncatedAtEnd,  // output ended in the middle of a message
};

// "message longer than the limit", for the log line and the close reason.
const char* describe(FramingError error) noexcept;

}  // namespace wsbridge::bridge
