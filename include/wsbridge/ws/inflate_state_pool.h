// Decompressor states one loop keeps between messages. Without context
// takeover each message is inflated from an empty window, so a state that
// finished one connection's message can serve any other's next one. Making
// and freeing zlib's 40 KiB per message cost more than inflating a short
// message itself (docs/deflate.md); keeping a few per loop removes that
// while an idle connection still holds none. Belongs to one loop; not
// thread-safe.
#pragma once
#include <array>
#include <cstddef>
#include <memory>

namespace wsbridge::ws {

struct InflateState;

class InflateStatePool {
 public:
  // Enough for the messages one loop inflates at once in practice; a state
  // given back beyond it is freed. At window 15: 8 × 40,048 B per loop.
  static constexpr std::size_t kMostKept = 8;

  InflateStatePool() noexcept;
  ~InflateStatePool();
  InflateStatePool(const InflateStatePool&) = delete;
  InflateStatePool& operator=(const InflateStatePool&) = delete;

  // A kept state for this window size, ready for a new stream; nullptr when
  // none is kept (the caller makes one).
  std::unique_ptr<InflateState> take(int window_bits) noexcept;
  // A state whose message ended: reset and kept, or freed when the pool is full.
  void give_back(std::unique_ptr<InflateState> state) noexcept;

  std::size_t kept() const noexcept { return count_; }
  // zlib memory held by the kept states.
  std::size_t allocated_bytes() const noexcept;

 private:
  std::array<std::unique_ptr<InflateState>, kMostKept> kept_;
  std::size_t count_ = 0;
};

}  // namespace wsbridge::ws
