// libuv's handle types share their first fields (uv_handle_t, then
// uv_stream_t for streams), and its API takes the base types: these casts
// say so once instead of reinterpret_cast at every call.
#pragma once
#include <uv.h>

#include <cstddef>

namespace wsbridge::net {

template <typename Handle>
uv_handle_t* as_handle(Handle* h) noexcept {
  return reinterpret_cast<uv_handle_t*>(h);
}
template <typename Handle>
uv_stream_t* as_stream(Handle* h) noexcept {
  return reinterpret_cast<uv_stream_t*>(h);
}

// A buffer descriptor for any length: uv_buf_init() takes an unsigned int
// and would cut a buffer of 4 GiB or more, while uv_buf_t.len is a size_t
// on Unix.
inline uv_buf_t make_buf(const char* data, std::size_t size) noexcept {
  uv_buf_t buf;
  buf.base = const_cast<char*>(data);
  buf.len = size;
  return buf;
}

}  // namespace wsbridge::net
