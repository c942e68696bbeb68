// Counts what zlib allocates for one stream, so each compressor and
// decompressor can say exactly how much memory it holds (for tests, the
// per-connection figures in docs/deflate.md, and metrics later).
#pragma once
#include <zlib.h>

#include <cstddef>

namespace wsbridge::ws {

class ZlibMemory {
 public:
  // Points the stream's zalloc/zfree at this counter; call before *Init2.
  void attach(z_stream& stream) noexcept;
  std::size_t bytes() const noexcept { return bytes_; }

 private:
  static void* allocate(void* opaque, uInt items, uInt size) noexcept;
  static void release(void* opaque, void* block) noexcept;
  std::size_t bytes_ = 0;
};

}  // namespace wsbridge::ws
