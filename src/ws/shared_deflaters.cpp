#include "wsbridge/ws/shared_deflaters.h"

#include <algorithm>

namespace wsbridge::ws {

MessageDeflater* SharedDeflaters::for_agreement(const DeflateParameters& agreed) {
  if (!agreed.server_no_context_takeover) return nullptr;
  const int bits = std::clamp<int>(agreed.server_max_window_bits, kSmallestWindow, 15);
  std::optional<MessageDeflater>& slot = by_window_[static_cast<std::size_t>(bits - kSmallestWindow)];
  // Kept between messages: making and freeing the state per message is what
  // sharing it avoids.
  if (!slot) slot.emplace(bits, true, IdleMemory::Keep);
  return &*slot;
}

std::size_t SharedDeflaters::allocated_bytes() const noexcept {
  std::size_t total = 0;
  for (const std::optional<MessageDeflater>& deflater : by_window_) {
    if (deflater) total += deflater->allocated_bytes();
  }
  return total;
}

}  // namespace wsbridge::ws
