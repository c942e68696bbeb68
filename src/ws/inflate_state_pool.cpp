#include "wsbridge/ws/inflate_state_pool.h"

#include <utility>

#include "inflate_state.h"

namespace wsbridge::ws {

InflateStatePool::InflateStatePool() noexcept = default;
InflateStatePool::~InflateStatePool() = default;

std::unique_ptr<InflateState> InflateStatePool::take(int window_bits) noexcept {
  // Newest first: its memory is the most likely to be in cache.
  for (std::size_t i = count_; i > 0; --i) {
    if (kept_[i - 1]->window_bits != window_bits) continue;
    std::unique_ptr<InflateState> state = std::move(kept_[i - 1]);
    kept_[i - 1] = std::move(kept_[count_ - 1]);
    --count_;
    return state;
  }
  return nullptr;
}

void InflateStatePool::give_back(std::unique_ptr<InflateState> state) noexcept {
  if (!state || count_ == kMostKept) return;  // freed here
  if (inflateReset(&state->stream) != Z_OK) return;
  kept_[count_++] = std::move(state);
}

std::size_t InflateStatePool::allocated_bytes() const noexcept {
  std::size_t bytes = 0;
  for (std::size_t i = 0; i < count_; ++i) bytes += sizeof(InflateState) + kept_[i]->memory.bytes();
  return bytes;
}

}  // namespace wsbridge::ws
