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

void MessageReader::inflate_compressed_messages(const DeflateParameters& agreed, InflateStatePool* pool) {
  inflater_ = std::make_unique<MessageInflater>(
      MessageInflater::for_server(agreed, max_message_size_, IdleMemory::Release));
  inflater_->share_states(pool);
  decoder_.allow_compressed_messages();
}

std::uint64_t MessageReader::wire_size_limit() const noexcept {
  if (max_message_size_ == 0 || !message_compressed_) return max_message_size_;
  // A compressed message is bounded by its inflated size, checked while
  // inflating. On the wire it may still be a little longer than the limit:
  // DEFLATE stores data it cannot shrink with a 5-byte header per block of
  // at most 64 KiB, so 1/1024 + 64 bytes of slack lets any honest message
  // of the limit's size through, while a message no inflated size could
  // justify is refused from its header, as an uncompressed one is.
  const std::uint64_t slack = max_message_size_ / 1024 + 64;
  return max_message_size_ > UINT64_MAX - slack ? UINT64_MAX : max_message_size_ + slack;
}

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
    // The decoder lets RSV1 through only when an inflater was set up.
    message_compressed_ = header.compressed;
    message_size_ = 0;
    message_buf_.clear();
    utf8_.reset();
  }

  // Refuse on the declared length, before buffering any of the payload, so
  // a client cannot make us hold max_message_size bytes just to be rejected.
  // Written as a subtraction because the declared length can be up to 2^63.
  const std::uint64_t limit = wire_size_limit();
  if (limit != 0 && (message_size_ > limit || header.payload_length > limit - message_size_)) {
    return ProtocolError::MessageTooBig;
  }
  message_size_ += header.payload_length;

  // The common case — a whole message in one frame, already in the read
  // buffer — is handed out in place. The payload is unmasked in place by the
  // decoder and arrives as one contiguous Payload event starting at `rest`.
  if (header.fin && header.opcode != Opcode::Continuation && !message_compressed_ &&
      header.payload_length <= rest_size) {
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
  if (message_compressed_) return inflate_payload(data, size, false);
  // Validate as the bytes come so a bad byte fails the connection now, not
  // after the (possibly large, possibly never-ending) rest of the message.
  if (!message_binary_ && !utf8_.feed(data, size)) return ProtocolError::InvalidTextUtf8;
  if (!frame_zero_copy_) message_buf_.append(reinterpret_cast<const char*>(data), size);
  return ProtocolError::None;
}

ProtocolError MessageReader::inflate_payload(const std::uint8_t* data, std::size_t size, bool last) {
  const std::size_t before = message_buf_.size();
  const InflateStatus status = last ? inflater_->finish(message_buf_) : inflater_->feed(data, size, message_buf_);
  // What was inflated before a failure is checked first, so the error does
  // not depend on how the payload was split into reads: fed at once, zlib
  // may get further before it finds bad data than it did byte by byte.
  const auto* inflated = reinterpret_cast<const std::uint8_t*>(message_buf_.data()) + before;
  if (!message_binary_ && !utf8_.feed(inflated, message_buf_.size() - before)) {
    return ProtocolError::InvalidTextUtf8;
  }
  return protocol_error_for(status);
}

// Returns true when the finished frame produces an event for the caller.
bool MessageReader::on_frame_end(Event& out) {
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
  if (message_compressed_) {
    const ProtocolError error = inflate_payload(nullptr, 0, true);
    if (error != ProtocolError::None) {
      out = fail(error);
      return true;
    }
  }
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
