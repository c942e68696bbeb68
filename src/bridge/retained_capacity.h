// How much buffer a message framer keeps between messages. A framer's
// buffers grow to the largest message it has held; an idle connection
// should cost what a typical one does, not what its largest message did.
#pragma once
#include <cstddef>
#include <string>

namespace wsbridge::bridge {

// Well above a typical message, so ordinary traffic never reallocates.
constexpr std::size_t kRetainedFramerCapacity = 64 * 1024;

// Empties `buffer`, giving its memory back when it grew past the bound.
inline void release_if_large(std::string& buffer) noexcept {
  if (buffer.capacity() > kRetainedFramerCapacity) {
    std::string().swap(buffer);
  } else {
    buffer.clear();
  }
}

}  // namespace wsbridge::bridge
