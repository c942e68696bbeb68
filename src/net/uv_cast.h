// libuv's handle types share their first fields (uv_handle_t, then
// uv_stream_t for streams), and its API takes the base types: these casts
// say so once instead of reinterpret_cast at every call.
#pragma once
#include <uv.h>

namespace wsbridge::net {

template <typename Handle>
uv_handle_t* as_handle(Handle* h) noexcept {
  return reinterpret_cast<uv_handle_t*>(h);
}
template <typename Handle>
uv_stream_t* as_stream(Handle* h) noexcept {
  return reinterpret_cast<uv_stream_t*>(h);
}

}  // namespace wsbridge::net
