// The permessage-deflate parameters both ends agreed on in the opening
// handshake (RFC 7692 §7.1), as the server applies them: which direction
// resets its LZ77 context after every message and how large each
// direction's sliding window may be.
#pragma once
#include <cstdint>

namespace wsbridge::ws {

struct DeflateParameters {
  // The server starts every message it compresses with an empty window.
  bool server_no_context_takeover = false;
  // The client does so too, so the server may forget the client's window
  // between messages (and free the memory it took).
  bool client_no_context_takeover = false;
  // Window the server's compressor may refer back into (2^bits bytes), 8..15.
  std::uint8_t server_max_window_bits = 15;
  // Window the client's compressor uses at most; the server's decompressor
  // needs one at least this large. 8..15.
  std::uint8_t client_max_window_bits = 15;
};

}  // namespace wsbridge::ws
