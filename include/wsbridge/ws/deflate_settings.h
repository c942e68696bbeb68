// What the server is willing to agree to when a client offers
// permessage-deflate: read-only configuration, shared by every loop.
#pragma once
#include <cstddef>
#include <cstdint>

namespace wsbridge::ws {

// Below this many bytes a message is sent uncompressed (RSV1 clear). JSON-like
// lines of 40 bytes break even on average and most shrink from 48, but only
// at 64 bytes do nearly all of them shrink, by about a tenth; below that the
// few bytes saved are not worth a compression call (docs/deflate.md).
constexpr std::size_t kDefaultDeflateThreshold = 64;

struct DeflateSettings {
  // Off by default: a client offering compression gets a plain connection.
  bool enabled = false;
  // Answer every accepted offer with server_no_context_takeover (RFC 7692
  // §7.1.1.1 lets the server add it), so outgoing messages never depend on
  // earlier ones and one compressor per loop can serve every connection:
  // no compressor memory per connection.
  bool server_no_context_takeover = true;
  // Answer every accepted offer with client_no_context_takeover (§7.1.1.2
  // lets the server add it), so the server frees a connection's
  // decompressor between messages: an idle connection holds no zlib memory.
  bool client_no_context_takeover = true;
  // The largest window the server compresses with (it may always use less
  // than the client allows). 9..15: zlib's raw deflate has no 8-bit window.
  std::uint8_t server_max_window_bits = 15;
  // The window the server asks of clients that let it choose (those that
  // offer client_max_window_bits). 9..15, so a client on zlib, which cannot
  // compress with an 8-bit window, is never asked for one.
  std::uint8_t client_max_window_bits = 15;
  // Messages shorter than this go out uncompressed, which RFC 7692 allows
  // per message, with or without context takeover.
  std::size_t threshold = kDefaultDeflateThreshold;
};

}  // namespace wsbridge::ws
