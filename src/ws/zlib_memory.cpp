// zfree is not told a block's size, so each block carries it in a header
// of max_align_t's size (keeping zlib's data as aligned as malloc's).
#include "zlib_memory.h"

#include <cstdlib>
#include <cstring>

namespace wsbridge::ws {
namespace {
constexpr std::size_t kHeader = alignof(std::max_align_t);
}  // namespace

void ZlibMemory::attach(z_stream& stream) noexcept {
  stream.zalloc = &ZlibMemory::allocate;
  stream.zfree = &ZlibMemory::release;
  stream.opaque = this;
}

void* ZlibMemory::allocate(void* opaque, uInt items, uInt size) noexcept {
  const std::size_t bytes = static_cast<std::size_t>(items) * size;
  auto* block = static_cast<unsigned char*>(std::malloc(kHeader + bytes));
  if (block == nullptr) return Z_NULL;
  std::memcpy(block, &bytes, sizeof bytes);
  static_cast<ZlibMemory*>(opaque)->bytes_ += bytes;
  return block + kHeader;
}

void ZlibMemory::release(void* opaque, void* data) noexcept {
  if (data == nullptr) return;
  unsigned char* block = static_cast<unsigned char*>(data) - kHeader;
  std::size_t bytes = 0;
  std::memcpy(&bytes, block, sizeof bytes);
  static_cast<ZlibMemory*>(opaque)->bytes_ -= bytes;
  std::free(block);
}

}  // namespace wsbridge::ws
