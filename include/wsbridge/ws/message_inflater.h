// Decompresses incoming permessage-deflate messages (RFC 7692 §7.2.2) as
// their frame payloads arrive: feed() each piece, finish() at the end of
// the message (it adds the 00 00 ff ff the sender removed). The inflated
// size is checked against the message limit while inflating, in pieces of
// at most kChunk bytes, so a small "bomb" is stopped after at most
// limit + 1 bytes of output were ever held.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wsbridge/ws/deflate_parameters.h"
#include "wsbridge/ws/error.h"
#include "wsbridge/ws/message_deflater.h"

namespace wsbridge::ws {

struct InflateState;
class InflateStatePool;

enum class InflateStatus : std::uint8_t {
  Ok,
  MessageTooBig,  // inflated past the limit → ProtocolError::MessageTooBig, 1009
  CorruptData,    // not valid DEFLATE, or a message cut mid-block → InvalidCompressedData, 1007
  OutOfMemory,    // zlib's memory could not be had → close with 1011
};

// The protocol error a failed status is (MessageTooBig, InvalidCompressedData,
// OutOfMemory; None for Ok), and the close code it answers with (1009, 1007,
// 1011; 1000 for Ok).
ProtocolError protocol_error_for(InflateStatus status) noexcept;
std::uint16_t close_code_for(InflateStatus status) noexcept;

class MessageInflater {
 public:
  // The most output produced per call into zlib.
  static constexpr std::size_t kChunk = 16 * 1024;
  static constexpr std::size_t kFirstStep = 1024;

  // window_bits 8..15: the client's agreed client_max_window_bits.
  // max_message_size: the inflated size allowed per message; 0 = unlimited.
  MessageInflater(int window_bits, bool no_context_takeover, std::uint64_t max_message_size,
                  IdleMemory idle) noexcept;
  // The server's decompressor for an agreement.
  static MessageInflater for_server(const DeflateParameters& agreed, std::uint64_t max_message_size,
                                    IdleMemory idle) noexcept;
  ~MessageInflater();
  MessageInflater(MessageInflater&&) noexcept;
  MessageInflater& operator=(MessageInflater&&) noexcept;
  MessageInflater(const MessageInflater&) = delete;
  MessageInflater& operator=(const MessageInflater&) = delete;

  // Inflates the next payload bytes of the current compressed message,
  // appending the output to `out`. After a failure every call returns the
  // same status: the connection is to be closed.
  [[nodiscard]] InflateStatus feed(const std::uint8_t* data, std::size_t size, std::string& out);
  // Ends the message (its last frame's payload was fed) and makes the
  // inflater ready for the next one.
  [[nodiscard]] InflateStatus finish(std::string& out);

  // With IdleMemory::Release and no context takeover: take the zlib state
  // for each message from `pool` and give it back at the message's end,
  // instead of making and freeing one per message. The pool outlives this.
  void share_states(InflateStatePool* pool) noexcept { pool_ = pool; }

  // Bytes held for zlib right now: its allocations plus the stream record.
  std::size_t allocated_bytes() const noexcept;

 private:
  bool make_state() noexcept;
  InflateStatus inflate_input(const std::uint8_t* data, std::size_t size, std::string& out);
  InflateStatus fail(InflateStatus status) noexcept;
  void restart_stream() noexcept;
  void reserve_output(std::string& out, std::size_t needed) const;
  void end_message() noexcept;

  std::unique_ptr<InflateState> state_;
  InflateStatePool* pool_ = nullptr;
  std::uint64_t max_message_size_;
  std::uint64_t message_size_ = 0;  // inflated bytes of the current message
  std::uint64_t message_input_ = 0;  // compressed bytes of the current message
  std::uint8_t window_bits_;
  bool no_context_takeover_;
  IdleMemory idle_;
  // The sender ended its DEFLATE stream (a block with BFINAL set) exactly at
  // the end of the input so far: the flush tail must not be inflated.
  bool stream_ended_ = false;
  InflateStatus failed_ = InflateStatus::Ok;
};

}  // namespace wsbridge::ws
