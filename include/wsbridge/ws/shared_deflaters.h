// The compressors one loop shares among all its connections that agreed
// server_no_context_takeover: each message is compressed from an empty
// window, so any connection can use the same zlib state, and an idle
// connection holds none (docs/deflate.md). Belongs to one loop; not
// thread-safe.
#pragma once
#include <array>
#include <cstddef>
#include <optional>

#include "wsbridge/ws/deflate_parameters.h"
#include "wsbridge/ws/message_deflater.h"

namespace wsbridge::ws {

class SharedDeflaters {
 public:
  // Each window size in use gets one compressor, made when first asked for;
  // an agreement of 8 bits shares the 9-bit one (zlib's smallest).
  SharedDeflaters() = default;

  // The compressor for a connection's agreement, or nullptr when the
  // agreement takes context over and the connection needs its own
  // (MessageDeflater::for_server(agreed, IdleMemory::Release)).
  MessageDeflater* for_agreement(const DeflateParameters& agreed);

  // zlib memory held by all of them.
  std::size_t allocated_bytes() const noexcept;

 private:
  static constexpr int kSmallestWindow = 9;
  std::array<std::optional<MessageDeflater>, 15 - kSmallestWindow + 1> by_window_;
};

}  // namespace wsbridge::ws
