#include "wsbridge/bridge/framing_error.h"

namespace wsbridge::bridge {

const char* describe(FramingError error) noexcept {
  switch (error) {
    case FramingError::None: return "no error";
    case FramingError::MessageTooLong: return "message longer than the limit";
    case FramingError::TruncatedAtEnd: return "output ended in the middle of a message";
  }
  return "unknown framing error";
}

}  // namespace wsbridge::bridge
