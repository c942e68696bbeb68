// Frame encoder: exact bytes for each length form, round trips through the
// decoder (after re-masking as a client would), and close payload cutting.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "wsbridge/ws/frame_decoder.h"
#include "wsbridge/ws/frame_encoder.h"
#include "wsbridge/ws/utf8_validator.h"

using namespace wsbridge::ws;
using Kind = FrameDecoder::EventKind;

namespace {

using Bytes = std::vector<std::uint8_t>;

Bytes header_bytes(Opcode op, bool fin, std::uint64_t len) {
  std::uint8_t buf[kMaxServerFrameHeaderSize + 4];
  for (auto& b : buf) b = 0xEE;  // sentinel: bytes past the header must stay untouched
  const std::size_t n = encode_frame_header(buf, op, fin, len);
  REQUIRE(n <= kMaxServerFrameHeaderSize);
  for (std::size_t i = n; i < sizeof buf; ++i) REQUIRE(buf[i] == 0xEE);
  return Bytes(buf, buf + n);
}

// Turns a server frame (unmasked) into the same frame as a client would
// send it: mask bit set, key inserted after the length, payload XORed.
Bytes mask_server_frame(const std::string& server_frame, std::array<std::uint8_t, 4> key) {
  Bytes in(server_frame.begin(), server_frame.end());
  REQUIRE(in.size() >= 2);
  REQUIRE((in[1] & 0x80) == 0);
  std::size_t header = 2;
  if ((in[1] & 0x7F) == 126) header = 4;
  if ((in[1] & 0x7F) == 127) header = 10;
  Bytes out(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(header));
  out[1] |= 0x80;
  out.insert(out.end(), key.begin(), key.end());
  for (std::size_t i = header; i < in.size(); ++i) {
    out.push_back(static_cast<std::uint8_t>(in[i] ^ key[(i - header) % 4]));
  }
  return out;
}

struct Decoded {
  FrameHeader header;
  std::string payload;
  bool ended = false;
  bool error = false;
};

Decoded decode_one(Bytes input, bool require_mask, std::size_t piece) {
  FrameDecoder d(require_mask);
  Decoded out;
  std::size_t pos = 0;
  while (pos < input.size() || !out.ended) {
    const std::size_t avail = std::min(piece, input.size() - pos);
    std::size_t used = 0;
    const auto ev = d.next(input.data() + pos, avail, used);
    pos += used;
    if (ev.kind == Kind::FrameStart) out.header = ev.header;
    if (ev.kind == Kind::Payload) out.payload.append(reinterpret_cast<const char*>(ev.data), ev.size);
    if (ev.kind == Kind::FrameEnd) out.ended = true;
    if (ev.kind == Kind::Error) {
      out.error = true;
      break;
    }
    if (ev.kind == Kind::FrameEnd) break;
    if (ev.kind == Kind::NeedMore && pos >= input.size()) break;
  }
  CHECK(pos == input.size());
  return out;
}

std::string patterned(std::size_t len) {
  std::string s(len, '\0');
  for (std::size_t i = 0; i < len; ++i) s[i] = static_cast<char>((i * 31 + 7) & 0xFF);
  return s;
}

}  // namespace

TEST_CASE("encoder: header bytes for each length form", "[ws_frame_encoder_test]") {
  CHECK(header_bytes(Opcode::Text, true, 0) == Bytes{0x81, 0x00});
  CHECK(header_bytes(Opcode::Text, true, 125) == Bytes{0x81, 125});
  CHECK(header_bytes(Opcode::Binary, true, 126) == Bytes{0x82, 126, 0x00, 126});
  CHECK(header_bytes(Opcode::Binary, true, 65535) == Bytes{0x82, 126, 0xFF, 0xFF});
  CHECK(header_bytes(Opcode::Binary, true, 65536) == Bytes{0x82, 127, 0, 0, 0, 0, 0, 1, 0, 0});
  CHECK(header_bytes(Opcode::Binary, false, 0x0102030405060708ULL) ==
        Bytes{0x02, 127, 1, 2, 3, 4, 5, 6, 7, 8});
  CHECK(header_bytes(Opcode::Continuation, false, 1) == Bytes{0x00, 0x01});
  CHECK(header_bytes(Opcode::Continuation, true, 1) == Bytes{0x80, 0x01});
  CHECK(header_bytes(Opcode::Close, true, 2) == Bytes{0x88, 0x02});
  CHECK(header_bytes(Opcode::Ping, true, 0) == Bytes{0x89, 0x00});
  CHECK(header_bytes(Opcode::Pong, true, 3) == Bytes{0x8A, 0x03});
}

TEST_CASE("encoder: header size is 2, 4 or 10 and never masked", "[ws_frame_encoder_test]") {
  struct Case {
    std::uint64_t len;
    std::size_t size;
  };
  for (const Case& c : {Case{0, 2}, Case{125, 2}, Case{126, 4}, Case{65535, 4}, Case{65536, 10},
                        Case{0x7FFFFFFFFFFFFFFFULL, 10}}) {
    const Bytes h = header_bytes(Opcode::Binary, true, c.len);
    CHECK(h.size() == c.size);
    CHECK((h[1] & 0x80) == 0);
  }
}

TEST_CASE("encoder: encode_frame round-trips through the decoder", "[ws_frame_encoder_test]") {
  for (std::size_t len : {0u, 1u, 125u, 126u, 65535u, 65536u}) {
    for (Opcode op : {Opcode::Text, Opcode::Binary, Opcode::Continuation}) {
      for (bool fin : {true, false}) {
        INFO("len " << len << " op " << int(op) << " fin " << fin);
        const std::string payload = patterned(len);
        const std::string wire = encode_frame(op, fin, payload);
        CHECK(wire.size() == len + (len < 126 ? 2 : len <= 65535 ? 4 : 10));
        CHECK(wire.substr(wire.size() - len) == payload);
        // As the client would send it, into the server's decoder.
        for (std::size_t piece : {wire.size() + 14, std::size_t{1}, std::size_t{7}, std::size_t{4096}}) {
          if (piece == 1 && len > 4096) continue;  // byte-by-byte on 64 KiB is slow and adds nothing
          const Decoded d = decode_one(mask_server_frame(wire, {0x12, 0x34, 0x56, 0x78}), true, piece);
          REQUIRE_FALSE(d.error);
          CHECK(d.ended);
          CHECK(d.header.fin == fin);
          CHECK(d.header.opcode == op);
          CHECK(d.header.masked);
          CHECK(d.header.payload_length == len);
          CHECK(d.payload == payload);
        }
        // As is, into a decoder that does not require masking.
        const Decoded raw = decode_one(Bytes(wire.begin(), wire.end()), false, wire.size());
        REQUIRE_FALSE(raw.error);
        CHECK_FALSE(raw.header.masked);
        CHECK(raw.payload == payload);
      }
    }
  }
}

TEST_CASE("encoder: control frames round-trip", "[ws_frame_encoder_test]") {
  for (Opcode op : {Opcode::Close, Opcode::Ping, Opcode::Pong}) {
    for (std::size_t len : {0u, 1u, 125u}) {
      const std::string payload = patterned(len);
      const Decoded d = decode_one(mask_server_frame(encode_frame(op, true, payload), {9, 8, 7, 6}), true, 3);
      REQUIRE_FALSE(d.error);
      CHECK(d.header.opcode == op);
      CHECK(d.payload == payload);
    }
  }
}

TEST_CASE("encoder: close payload is a big-endian code and the reason", "[ws_frame_encoder_test]") {
  CHECK(encode_close_payload(1000, "") == std::string("\x03\xE8", 2));
  CHECK(encode_close_payload(1009, "too big") == std::string("\x03\xF1", 2) + "too big");
  CHECK(encode_close_payload(4999, "x") == std::string("\x13\x87", 2) + "x");
  CHECK(encode_close_payload(0xABCD, "") == std::string("\xAB\xCD", 2));
}

TEST_CASE("encoder: close reason is cut to 123 bytes at a UTF-8 boundary", "[ws_frame_encoder_test]") {
  const std::string ascii123(123, 'a');
  CHECK(encode_close_payload(1000, ascii123).size() == 125);
  CHECK(encode_close_payload(1000, ascii123 + "b").substr(2) == ascii123);
  CHECK(encode_close_payload(1000, std::string(1000, 'z')).size() == 125);

  // 2-, 3- and 4-byte characters, with every possible phase against the
  // limit (0-3 ASCII bytes in front), must never be cut in half.
  const std::string chars[] = {"\xC3\xA9", "\xE2\x82\xAC", "\xF0\x9F\x98\x80"};
  for (const std::string& ch : chars) {
    for (std::size_t lead = 0; lead < 4; ++lead) {
      std::string reason(lead, 'a');
      while (reason.size() < 200) reason += ch;
      const std::string p = encode_close_payload(1001, reason);
      INFO("char bytes " << ch.size() << " lead " << lead);
      CHECK(p.size() <= kMaxControlPayload);
      CHECK(p.size() > kMaxControlPayload - ch.size());  // cut no more than needed
      const std::string cut = p.substr(2);
      CHECK(reason.compare(0, cut.size(), cut) == 0);
      CHECK(is_valid_utf8(reinterpret_cast<const std::uint8_t*>(cut.data()), cut.size()));
    }
  }
}

TEST_CASE("encoder: a close frame with a long reason stays a legal control frame", "[ws_frame_encoder_test]") {
  const std::string payload = encode_close_payload(1000, std::string(500, 'r'));
  const std::string wire = encode_frame(Opcode::Close, true, payload);
  CHECK(wire.size() == 2 + 125);
  const Decoded d = decode_one(mask_server_frame(wire, {1, 1, 1, 1}), true, 10);
  REQUIRE_FALSE(d.error);
  CHECK(d.payload == payload);
}

TEST_CASE("encoder: a compressed message's first frame carries RSV1, which a decoder allows only when agreed", "[ws_frame_encoder_test]") {
  const std::string frame = encode_frame(Opcode::Text, true, "abc", true);
  CHECK(static_cast<std::uint8_t>(frame[0]) == 0xC1);  // FIN | RSV1 | Text
  CHECK(static_cast<std::uint8_t>(encode_frame(Opcode::Text, true, "abc")[0]) == 0x81);

  Bytes bytes(frame.begin(), frame.end());
  FrameDecoder plain(false);
  std::size_t used = 0;
  CHECK(plain.next(bytes.data(), bytes.size(), used).error == ProtocolError::ReservedBitsSet);

  FrameDecoder agreed(false);
  agreed.allow_compressed_messages();
  const auto start = agreed.next(bytes.data(), bytes.size(), used);
  REQUIRE(start.kind == Kind::FrameStart);
  CHECK(start.header.compressed);
  CHECK(start.header.payload_length == 3);
}
