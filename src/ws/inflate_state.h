// One zlib decompressor and the counter its allocations go through: what a
// MessageInflater holds while a message is inflated, and what a loop's
// InflateStatePool keeps between messages. inflateEnd on a stream whose init
// failed or never ran is a harmless no-op (its state is null).
#pragma once
#include <zlib.h>

#include "zlib_memory.h"

namespace wsbridge::ws {

struct InflateState {
  z_stream stream{};
  ZlibMemory memory;
  int window_bits = 15;
  ~InflateState() { inflateEnd(&stream); }
};

}  // namespace wsbridge::ws
