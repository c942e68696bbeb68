#include "net/shared_state.h"

#include <chrono>

namespace wsbridge::net {

std::uint64_t UniqueIds::next() noexcept {
  auto now = std::chrono::system_clock::now().time_since_epoch();
  auto ns = static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(now).count());
  std::uint64_t last = last_.load(std::memory_order_relaxed);
  std::uint64_t id;
  do {
    id = ns > last ? ns : last + 1;
  } while (!last_.compare_exchange_weak(last, id, std::memory_order_relaxed));
  return id;
}

}  // namespace wsbridge::net
