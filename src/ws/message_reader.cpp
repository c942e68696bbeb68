// Frames → messages. The frame decoder has already enforced the per-frame
// rules; this layer enforces the order of frames (§5.4), the UTF-8 of text
// and close reasons (§8.1) and the message size limit, and decides where a
// message's bytes live: in the caller's buffer when a whole unfragmented frame
// is there (no copy), otherwise in message_buf_.
#include "wsbridge/ws/message_reader.h"

#include <cstring>

namespace wsbridge::ws {
namespace {

// A reassembly buffer larger than this is freed once its message has been
// delivered, so one big message does not pin memory for the rest of an idle
// connection's life (design rule 7). Below it, the buffer is kept for reuse.
constexpr std::size_t kRetainedBufferCapacity = 64 * 1024;

}  // namespace

MessageReader::Event MessageReader::fail(ProtocolError error) noexcept {
  failed_ = true;
  error_ = error;
  Event ev;
  ev.kind = EventKind::Error;
  ev.error = error;
  return ev;
}

ProtocolError MessageReader::on_frame_start(const FrameHeader& header, std::uint8_t* rest,
                                            std::size_t rest_size) noexcept {
  frame_ = header;
  frame_zero_copy_ = false;
  zero_copy_data_ = nullptr;
  if (is_control(header.opcode)) {
    // Control frames may sit between the fragments of a data message, so the
    // message state is left untouched; the decoder guarantees <= 125 bytes.
    control_size_ = 0;
    return ProtocolError::None;
  }

  if (header.opcode == Opcode::Continuation) {
    if (!in_message_) return ProtocolError::UnexpectedContinuation;
  } else {
    if (in_message_) return ProtocolError::ExpectedContinuation;
    in_message_ = true;
    message_binary_ = header.opcode == Opcode::Binary;
    message_size_ = 0;
    message_buf_.clear();
    utf8_.reset();
  }

  // Refuse on the declared length, before buffering any of the payload, so
  // a client cannot make us hold max_message_size bytes just to be rejected.
  // Written as a subtraction because the declared length can be up to 2^63.
  if (max_message_size_ != 0 &&
      (message_size_ > max_message_size_ || header.payload_length > max_message_size_ - message_size_)) {
    return ProtocolError::MessageTooBig;
  }
  message_size_ += header.payload_length;

  // The common case — a whole message in one frame, already in the read
  // buffer — is handed out in place. The payload is unmasked in place by the
  // decoder and arrives as one contiguous Payload event starting at `rest`.
  if (header.fin && header.opcode != Opcode::Continuation && header.payload_length <= rest_size) {
    frame_zero_copy_ = true;
    zero_copy_data_ = rest;
  }
  return ProtocolError::None;
}

ProtocolError MessageReader::on_payload(const std::uint8_t* data, std::size_t size) {
  if (is_control(frame_.opcode)) {
    std::memcpy(control_buf_ + control_size_, data, size);
    control_size_ += size;
    return ProtocolError::None;
  }
  // Validate as the bytes come so a bad byte fails the connection now, not
  // after the (possibly large, possibly never-ending) rest of the message.
  if (!message_binary_ && !utf8_.feed(data, size)) return ProtocolError::InvalidTextUtf8;
  if (!frame_zero_copy_) message_buf_.append(reinterpret_cast<const char*>(data), size);
  return ProtocolError::None;
}

// Returns true when the finished frame produces an event for the caller.
bool MessageReader::on_frame_end(Event& out) noexcept {
  const std::string_view control(reinterpret_cast<const char*>(control_buf_), control_size_);
  switch (frame_.opcode) {
    case Opcode::Ping:
      out.kind = EventKind::Ping;
      out.payload = control;
      return true;
    case Opcode::Pong:
      out.kind = EventKind::Pong;
      out.payload = control;
      return true;
    case Opcode::Close: {
      // §5.5.1: an empty close body means "no status code" (reported as 1005).
      if (control_size_ == 0) {
        out.kind = EventKind::Close;
        out.close_code = close_code::kNoStatus;
        return true;
      }
      if (control_size_ == 1) {
        out = fail(ProtocolError::ClosePayloadTooShort);
        return true;
      }
      const auto code = static_cast<std::uint16_t>((control_buf_[0] << 8) | control_buf_[1]);
      if (!is_valid_close_code_on_wire(code)) {
        out = fail(ProtocolError::InvalidCloseCode);
        return true;
      }
      if (!is_valid_utf8(control_buf_ + 2, control_size_ - 2)) {
        out = fail(ProtocolError::InvalidCloseReasonUtf8);
        return true;
      }
      out.kind = EventKind::Close;
      out.close_code = code;
      out.payload = control.substr(2);
      return true;
    }
    case Opcode::Text:
    case Opcode::Binary:
    case Opcode::Continuation:
      break;
  }

  if (!frame_.fin) return false;  // more fragments to come
  // A text message may end in the middle of a code point; only now is that known.
  if (!message_binary_ && !utf8_.finish()) {
    out = fail(ProtocolError::InvalidTextUtf8);
    return true;
  }
  in_message_ = false;
  out.kind = EventKind::Message;
  out.binary = message_binary_;
  if (frame_zero_copy_) {
    out.payload = std::string_view(reinterpret_cast<const char*>(zero_copy_data_),
                                   static_cast<std::size_t>(frame_.payload_length));
  } else {
    out.payload = message_buf_;
  }
  return true;
}

MessageReader::Event MessageReader::next(std::uint8_t* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  if (failed_) {
    Event ev;
    ev.kind = EventKind::Error;
    ev.error = error_;
    return ev;
  }
  // The previous Message event may still point into message_buf_ until this
  // call, so a large buffer can only be released now. Callers drain events
  // until NeedMore, so this runs right after the big message is handled.
  if (!in_message_ && message_buf_.capacity() > kRetainedBufferCapacity) {
    std::string().swap(message_buf_);
  }

  std::size_t pos = 0;
  for (;;) {
    std::size_t used = 0;
    // Avoid forming nullptr + 0 when called with no data.
    std::uint8_t* const here = data != nullptr ? data + pos : nullptr;
    const FrameDecoder::Event ev = decoder_.next(here, size - pos, used);
    pos += used;
    switch (ev.kind) {
      case FrameDecoder::EventKind::NeedMore:
        consumed = pos;
        return Event{};
      case FrameDecoder::EventKind::Error:
        consumed = pos;
        return fail(ev.error);
      case FrameDecoder::EventKind::FrameStart: {
        std::uint8_t* const rest = data != nullptr ? data + pos : nullptr;
        const ProtocolError error = on_frame_start(ev.header, rest, size - pos);
        if (error != ProtocolError::None) {
          consumed = pos;
          return fail(error);
        }
        break;
      }
      case FrameDecoder::EventKind::Payload: {
        const ProtocolError error = on_payload(ev.data, ev.size);
        if (error != ProtocolError::None) {
          consumed = pos;
          return fail(error);
        }
        break;
      }
      case FrameDecoder::EventKind::FrameEnd: {
        Event out;
        if (on_frame_end(out)) {
          consumed = pos;
          return out;
        }
        break;
      }
    }
  }
}

}  // namespace wsbridge::ws
