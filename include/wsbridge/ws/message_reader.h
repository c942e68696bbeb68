// Per-connection receive state machine: turns decoded frames into whole
// messages and control events, enforcing message order (§5.4), UTF-8 of text
// messages and close reasons (§8.1, checked incrementally so a bad byte fails
// at once, across fragments) and the message size limit.
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "wsbridge/ws/error.h"
#include "wsbridge/ws/deflate_parameters.h"
#include "wsbridge/ws/frame_decoder.h"
#include "wsbridge/ws/message_inflater.h"
#include "wsbridge/ws/utf8_validator.h"

namespace wsbridge::ws {

class MessageReader {
 public:
  enum class EventKind : std::uint8_t {
    NeedMore,  // all input consumed
    Message,   // payload = a complete data message; binary tells its type
    Ping,      // payload = ping payload (answer with a pong carrying it)
    Pong,      // payload = pong payload
    Close,     // close_code (1005 when the frame had none) and payload = reason
    Error,     // error: answer with close_code_for(error) and stop reading
  };
  struct Event {
    EventKind kind = EventKind::NeedMore;
    bool binary = false;
    std::string_view payload;  // valid until the next call to next()
    std::uint16_t close_code = 0;
    ProtocolError error = ProtocolError::None;
  };

  // max_message_size: 0 means unlimited.
  explicit MessageReader(std::uint64_t max_message_size) noexcept
      : max_message_size_(max_message_size) {}

  // permessage-deflate was agreed (`agreed`): a message whose first frame
  // has RSV1 is inflated as it arrives, its inflated size is what the
  // message limit bounds, and its UTF-8 is checked after inflating. The
  // inflater's memory is taken for each compressed message and given back
  // after it (with client_no_context_takeover): to `pool`, the loop's, when
  // given, else freed. Either way an idle connection pays none.
  void inflate_compressed_messages(const DeflateParameters& agreed, InflateStatePool* pool = nullptr);

  // Consumes bytes from data[0, size) (unmasking them in place) until one
  // event is ready; `consumed` tells how many bytes were used. A message that
  // arrives as one unfragmented frame inside `data` is returned as a view into
  // `data` without copying; otherwise it is assembled in an internal buffer,
  // which is released again after a large message so idle connections stay small.
  Event next(std::uint8_t* data, std::size_t size, std::size_t& consumed);

  // Capacity of the reassembly buffer, for tests and memory accounting. After
  // a message larger than 64 KiB was delivered, the next call to next()
  // gives the memory back (capacity returns to an empty string's).
  std::size_t buffer_capacity() const noexcept { return message_buf_.capacity(); }

 private:
  Event fail(ProtocolError error) noexcept;
  ProtocolError on_frame_start(const FrameHeader& header, std::uint8_t* rest, std::size_t rest_size) noexcept;
  ProtocolError on_payload(const std::uint8_t* data, std::size_t size);
  // Inflates a compressed message's next payload bytes into message_buf_
  // (at its end: the flush tail, last = true) and checks their UTF-8.
  ProtocolError inflate_payload(const std::uint8_t* data, std::size_t size, bool last);
  // The most wire bytes the current message may declare.
  std::uint64_t wire_size_limit() const noexcept;
  bool on_frame_end(Event& out);

  FrameDecoder decoder_{true};
  std::uint64_t max_message_size_;
  Utf8Validator utf8_;
  // Data message in progress (possibly fragmented).
  bool in_message_ = false;
  bool message_binary_ = false;
  bool message_compressed_ = false;  // its first frame had RSV1
  std::uint64_t message_size_ = 0;
  std::string message_buf_;
  // Current frame.
  FrameHeader frame_{};
  bool frame_zero_copy_ = false;
  std::uint8_t* zero_copy_data_ = nullptr;
  // Control frame in progress (interleaved between fragments is allowed).
  std::uint8_t control_buf_[kMaxControlPayload] = {};
  std::size_t control_size_ = 0;
  bool failed_ = false;
  ProtocolError error_ = ProtocolError::None;
  std::unique_ptr<MessageInflater> inflater_;  // only with permessage-deflate
};

}  // namespace wsbridge::ws
