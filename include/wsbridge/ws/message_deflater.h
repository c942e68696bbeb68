// Compresses whole outgoing messages for permessage-deflate (RFC 7692
// §7.2.1): raw DEFLATE, each message ended by a sync flush whose trailing
// 00 00 ff ff is removed. zlib's state is made on the first message, so a
// connection that never sends one pays only sizeof(MessageDeflater).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "wsbridge/ws/deflate_parameters.h"

namespace wsbridge::ws {

// What a compressor or decompressor does with zlib's memory between messages
// when no context is taken over (with context takeover it must keep it).
enum class IdleMemory : std::uint8_t {
  Keep,     // reset and reuse: right for one compressor per loop
  Release,  // free it after every message: right for one per connection
};

class MessageDeflater {
 public:
  // zlib's memLevel: 1..9; deflate holds 2^(memLevel+9) bytes of hash table
  // and pending output plus 4 * 2^window_bits of window. 8 is zlib's default;
  // docs/deflate.md has the measured sizes and ratios behind the choice.
  static constexpr int kDefaultMemLevel = 4;

  // window_bits 8..15 (8 compresses with a 9-bit window, which zlib never
  // lets refer back more than 250 bytes, so an 8-bit window can follow it);
  // level 1..9 as zlib's.
  MessageDeflater(int window_bits, bool no_context_takeover, IdleMemory idle,
                  int mem_level = kDefaultMemLevel, int level = 6) noexcept;
  // The server's compressor for an agreement.
  static MessageDeflater for_server(const DeflateParameters& agreed, IdleMemory idle) noexcept;
  ~MessageDeflater();
  MessageDeflater(MessageDeflater&&) noexcept;
  MessageDeflater& operator=(MessageDeflater&&) noexcept;
  MessageDeflater(const MessageDeflater&) = delete;
  MessageDeflater& operator=(const MessageDeflater&) = delete;

  // Appends the compressed payload of one whole message to `out` (send it
  // with RSV1 on the message's first frame). False only when zlib's memory
  // cannot be had; `out` is then as before and the connection should close
  // with 1011, because with context takeover the two ends now disagree.
  [[nodiscard]] bool compress(std::string_view message, std::string& out);

  // Bytes held for zlib right now: its allocations plus the stream record.
  std::size_t allocated_bytes() const noexcept;

 private:
  struct State;
  bool make_state() noexcept;
  void end_message() noexcept;

  std::unique_ptr<State> state_;
  std::uint8_t window_bits_;
  std::uint8_t mem_level_;
  std::uint8_t level_;
  bool no_context_takeover_;
  IdleMemory idle_;
};

}  // namespace wsbridge::ws
