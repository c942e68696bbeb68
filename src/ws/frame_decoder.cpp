// Client frame decoder. The header is collected into header_buf_ a byte
// range at a time, so a header split at any byte costs nothing extra, and
// each rule is checked as soon as the byte that decides it has arrived: a
// broken stream is refused without waiting for the rest of the header.
#include "wsbridge/ws/frame_decoder.h"

#include <cstring>

namespace wsbridge::ws {
namespace {

bool is_known_opcode(std::uint8_t op) noexcept {
  return op <= 0x2 || (op >= 0x8 && op <= 0xA);
}

// XORs n payload bytes with the mask key. `offset` is the position of p[0]
// within the frame's payload, because a payload can arrive in many reads and
// the key must keep rotating from where the last read stopped (§5.3).
void unmask(std::uint8_t* p, std::size_t n, const std::uint8_t key[4], std::uint64_t offset) noexcept {
  // Rotate the key so that rotated[0] applies to p[0]; from here on the
  // pattern repeats every four bytes, so it can be applied a word at a time.
  std::uint8_t rotated[8];
  for (std::size_t k = 0; k < 8; ++k) rotated[k] = key[(offset + k) & 3];
  std::uint64_t key64;
  std::memcpy(&key64, rotated, sizeof key64);  // byte order in memory is kept, so endianness is irrelevant
  std::size_t i = 0;
  for (; i + 32 <= n; i += 32) {
    // Four independent words per iteration give the compiler room to
    // vectorise; memcpy makes unaligned access well defined.
    std::uint64_t w[4];
    std::memcpy(w, p + i, sizeof w);
    w[0] ^= key64;
    w[1] ^= key64;
    w[2] ^= key64;
    w[3] ^= key64;
    std::memcpy(p + i, w, sizeof w);
  }
  for (; i + 8 <= n; i += 8) {
    std::uint64_t w;
    std::memcpy(&w, p + i, sizeof w);
    w ^= key64;
    std::memcpy(p + i, &w, sizeof w);
  }
  // i is a multiple of 8, so rotated[i & 3] is still the right key byte.
  for (; i < n; ++i) p[i] ^= rotated[i & 3];
}

FrameDecoder::Event make_error(ProtocolError error) noexcept {
  FrameDecoder::Event ev;
  ev.kind = FrameDecoder::EventKind::Error;
  ev.error = error;
  return ev;
}

}  // namespace

std::size_t FrameDecoder::header_size_needed() const noexcept {
  if (header_have_ < 2) return 2;
  const std::uint8_t len7 = header_buf_[1] & 0x7F;
  std::size_t need = 2;
  if (len7 == 126) need += 2;
  else if (len7 == 127) need += 8;
  if ((header_buf_[1] & 0x80) != 0) need += 4;
  return need;
}

// The frame rules in one ordered list (design rule 3). Each rule looks only
// at bytes already present, so calling this after every byte gives the same
// first error as calling it once on a whole header.
ProtocolError FrameDecoder::check_header_prefix() const noexcept {
  if (header_have_ >= 1) {
    const std::uint8_t b0 = header_buf_[0];
    const std::uint8_t op = b0 & 0x0F;
    // RSV1-3 must be zero (§5.2) unless an extension gives one a meaning:
    // permessage-deflate's RSV1 marks the first frame of a compressed
    // message, so only a Text or Binary frame may carry it (RFC 7692 §6.1).
    const bool starts_data_message =
        op == static_cast<std::uint8_t>(Opcode::Text) || op == static_cast<std::uint8_t>(Opcode::Binary);
    const std::uint8_t allowed_reserved = compressed_allowed_ && starts_data_message ? 0x40 : 0x00;
    if ((b0 & 0x70 & ~allowed_reserved) != 0) return ProtocolError::ReservedBitsSet;
    if (!is_known_opcode(op)) return ProtocolError::UnknownOpcode;
    const bool control = (op & 0x8) != 0;
    if (control && (b0 & 0x80) == 0) return ProtocolError::FragmentedControlFrame;
  }
  if (header_have_ >= 2) {
    const std::uint8_t b1 = header_buf_[1];
    if (require_mask_ && (b1 & 0x80) == 0) return ProtocolError::UnmaskedClientFrame;
    const bool control = (header_buf_[0] & 0x8) != 0;
    // A control frame's 7-bit length of 126 or 127 already means > 125.
    if (control && (b1 & 0x7F) > kMaxControlPayload) return ProtocolError::ControlFrameTooLong;
  }
  // §5.2: "the most significant bit MUST be 0" in the 64-bit length. The
  // first extended-length byte decides it.
  if (header_have_ >= 3 && (header_buf_[1] & 0x7F) == 127 && (header_buf_[2] & 0x80) != 0) {
    return ProtocolError::LengthTooLarge;
  }
  return ProtocolError::None;
}

FrameDecoder::Event FrameDecoder::decode_header(std::uint8_t* data, std::size_t size,
                                                std::size_t& consumed) noexcept {
  for (;;) {
    const std::size_t need = header_size_needed();
    if (header_have_ >= need) break;
    if (consumed == size) return Event{};  // NeedMore; the partial header is kept
    std::size_t take = need - header_have_;
    if (take > size - consumed) take = size - consumed;
    std::memcpy(header_buf_ + header_have_, data + consumed, take);
    header_have_ = static_cast<std::uint8_t>(header_have_ + take);
    consumed += take;
    const ProtocolError error = check_header_prefix();
    if (error != ProtocolError::None) {
      state_ = State::Failed;
      error_ = error;
      return make_error(error);
    }
  }

  const std::uint8_t b0 = header_buf_[0];
  const std::uint8_t b1 = header_buf_[1];
  header_.fin = (b0 & 0x80) != 0;
  header_.opcode = static_cast<Opcode>(b0 & 0x0F);
  header_.compressed = (b0 & 0x40) != 0;
  header_.masked = (b1 & 0x80) != 0;
  std::size_t pos = 2;
  const std::uint8_t len7 = b1 & 0x7F;
  if (len7 == 126) {
    header_.payload_length = (std::uint64_t{header_buf_[2]} << 8) | header_buf_[3];
    pos = 4;
  } else if (len7 == 127) {
    std::uint64_t len = 0;
    for (std::size_t k = 0; k < 8; ++k) len = (len << 8) | header_buf_[2 + k];
    header_.payload_length = len;
    pos = 10;
  } else {
    header_.payload_length = len7;
  }
  // Non-minimal length encodings (e.g. 126 followed by 5) break §5.2's
  // "minimal number of bytes" but are harmless; like most servers we accept them.
  if (header_.masked) std::memcpy(mask_, header_buf_ + pos, 4);

  header_have_ = 0;
  payload_left_ = header_.payload_length;
  payload_offset_ = 0;
  state_ = payload_left_ == 0 ? State::End : State::Payload;

  Event ev;
  ev.kind = EventKind::FrameStart;
  ev.header = header_;
  return ev;
}

FrameDecoder::Event FrameDecoder::next(std::uint8_t* data, std::size_t size,
                                       std::size_t& consumed) noexcept {
  consumed = 0;
  switch (state_) {
    case State::Failed:
      return make_error(error_);
    case State::End: {
      // FrameEnd needs no input: it is reported even when size is 0.
      state_ = State::Header;
      Event ev;
      ev.kind = EventKind::FrameEnd;
      return ev;
    }
    case State::Payload: {
      if (size == 0) return Event{};
      std::size_t n = size;
      if (payload_left_ < n) n = static_cast<std::size_t>(payload_left_);
      if (header_.masked) unmask(data, n, mask_, payload_offset_);
      payload_offset_ += n;
      payload_left_ -= n;
      if (payload_left_ == 0) state_ = State::End;
      consumed = n;
      Event ev;
      ev.kind = EventKind::Payload;
      ev.data = data;
      ev.size = n;
      return ev;
    }
    case State::Header:
      break;
  }
  return decode_header(data, size, consumed);
}

}  // namespace wsbridge::ws
