// Frame decoder: every per-frame rule, fed whole, byte by byte, split in two
// at every byte boundary and in random pieces; the transcript of events must
// not depend on how the input was cut.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "split_plans.h"
#include "wsbridge/ws/frame_decoder.h"

using namespace wsbridge::ws;
using Kind = FrameDecoder::EventKind;

namespace {

using Bytes = std::vector<std::uint8_t>;
using Key = std::array<std::uint8_t, 4>;
constexpr Key kKey = {0x37, 0xFA, 0x21, 0x3D};

// Builds a client frame from raw parts. len_form forces the length encoding
// (7, 16 or 64 bits); 0 picks the shortest. declared_length overrides the
// length field (for headers whose payload is never sent).
struct RawFrame {
  std::uint8_t first_byte = 0x81;
  bool masked = true;
  Key key = kKey;
  std::string payload;
  int len_form = 0;
  bool override_length = false;
  std::uint64_t declared_length = 0;
};

Bytes build(const RawFrame& f) {
  Bytes out;
  out.push_back(f.first_byte);
  const std::uint64_t len = f.override_length ? f.declared_length : f.payload.size();
  int form = f.len_form;
  if (form == 0) form = len < 126 ? 7 : (len <= 0xFFFF ? 16 : 64);
  const std::uint8_t mask_bit = f.masked ? 0x80 : 0x00;
  if (form == 7) {
    out.push_back(static_cast<std::uint8_t>(mask_bit | len));
  } else if (form == 16) {
    out.push_back(static_cast<std::uint8_t>(mask_bit | 126));
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
  } else {
    out.push_back(static_cast<std::uint8_t>(mask_bit | 127));
    for (int k = 7; k >= 0; --k) out.push_back(static_cast<std::uint8_t>(len >> (8 * k)));
  }
  if (f.masked) out.insert(out.end(), f.key.begin(), f.key.end());
  for (std::size_t i = 0; i < f.payload.size(); ++i) {
    const auto b = static_cast<std::uint8_t>(f.payload[i]);
    out.push_back(f.masked ? static_cast<std::uint8_t>(b ^ f.key[i % 4]) : b);
  }
  return out;
}

Bytes frame(Opcode op, bool fin, const std::string& payload, Key key = kKey) {
  RawFrame f;
  f.first_byte = static_cast<std::uint8_t>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(op));
  f.payload = payload;
  f.key = key;
  return build(f);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// Feeds `input` in pieces and returns a transcript such as
// "start fin=1 op=1 masked=1 len=5|payload Hello|end|". Consecutive Payload
// events are merged, since how a payload is chunked depends on the split.
std::string run(const Bytes& input, const std::vector<std::size_t>& pieces, bool require_mask = true) {
  FrameDecoder decoder(require_mask);
  std::ostringstream log;
  std::string pending_payload;
  bool in_payload = false;
  auto flush = [&] {
    if (in_payload) log << "payload " << pending_payload << "|";
    pending_payload.clear();
    in_payload = false;
  };
  using wsbridge::test::Fed;
  const bool ended = wsbridge::test::feed_pieces(input, pieces, [&](std::uint8_t* data, std::size_t size,
                                                              std::size_t& used) {
    const auto ev = decoder.next(data, size, used);
    if (ev.kind == Kind::NeedMore) return Fed::NeedMore;
    if (ev.kind == Kind::Payload) {
      REQUIRE(ev.size > 0);
      REQUIRE(ev.data >= data);
      REQUIRE(ev.data + ev.size <= data + size);
      pending_payload.append(reinterpret_cast<const char*>(ev.data), ev.size);
      in_payload = true;
      return Fed::Again;
    }
    flush();
    if (ev.kind == Kind::FrameStart) {
      log << "start fin=" << ev.header.fin << " op=" << static_cast<int>(ev.header.opcode)
          << " masked=" << ev.header.masked << " len=" << ev.header.payload_length << "|";
      return Fed::Again;
    }
    if (ev.kind == Kind::FrameEnd) {
      log << "end|";
      return Fed::Again;
    }
    REQUIRE(ev.kind == Kind::Error);
    log << "error " << describe(ev.error) << "|";
    // Sticky: the same error again, consuming nothing.
    std::uint8_t more[4] = {0x81, 0x80, 0, 0};
    std::size_t used_after = 99;
    const auto again = decoder.next(more, sizeof more, used_after);
    CHECK(again.kind == Kind::Error);
    CHECK(again.error == ev.error);
    CHECK(used_after == 0);
    return Fed::Stop;
  });
  if (!ended) return log.str();
  flush();
  return log.str();
}

// Runs every split plan and checks each gives the whole-input transcript,
// which must equal `expected`.
void check_all_splits(const Bytes& input, const std::string& expected, bool require_mask = true) {
  const std::string whole = run(input, {input.size()}, require_mask);
  CHECK(whole == expected);
  std::uint32_t seed = static_cast<std::uint32_t>(input.size()) * 7919u + 17u;
  for (const auto& plan : wsbridge::test::split_plans(input.size(), seed, {input.size() <= 2048, 25, 17})) {
    INFO("pieces: " << plan.size() << " first: " << plan.front());
    REQUIRE(run(input, plan, require_mask) == expected);
  }
}

std::string start(bool fin, int op, std::uint64_t len, bool masked = true) {
  std::ostringstream s;
  s << "start fin=" << fin << " op=" << op << " masked=" << masked << " len=" << len << "|";
  return s.str();
}

std::string err(ProtocolError e) { return std::string("error ") + describe(e) + "|"; }

}  // namespace

TEST_CASE("decoder: masked text frame (RFC 6455 §5.7 example)", "[ws_frame_decoder_test]") {
  // The RFC's masked "Hello": 0x81 0x85 0x37 0xfa 0x21 0x3d 0x7f 0x9f 0x4d 0x51 0x58
  const Bytes rfc = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
  CHECK(rfc == frame(Opcode::Text, true, "Hello"));
  check_all_splits(rfc, start(true, 1, 5) + "payload Hello|end|");
}

TEST_CASE("decoder: every opcode that is allowed, empty and non-empty", "[ws_frame_decoder_test]") {
  const Opcode ops[] = {Opcode::Continuation, Opcode::Text, Opcode::Binary,
                        Opcode::Close,        Opcode::Ping, Opcode::Pong};
  for (Opcode op : ops) {
    INFO("opcode " << static_cast<int>(op));
    check_all_splits(frame(op, true, ""), start(true, static_cast<int>(op), 0) + "end|");
    check_all_splits(frame(op, true, "abc"), start(true, static_cast<int>(op), 3) + "payload abc|end|");
  }
  check_all_splits(frame(Opcode::Text, false, "x"), start(false, 1, 1) + "payload x|end|");
  check_all_splits(frame(Opcode::Continuation, false, "x"), start(false, 0, 1) + "payload x|end|");
}

TEST_CASE("decoder: 7-, 16- and 64-bit lengths at their edges", "[ws_frame_decoder_test]") {
  for (std::size_t len : {0u, 1u, 124u, 125u, 126u, 127u, 1000u, 65535u, 65536u, 70000u}) {
    INFO("len " << len);
    std::string payload(len, '\0');
    for (std::size_t i = 0; i < len; ++i) payload[i] = static_cast<char>('a' + i % 26);
    check_all_splits(frame(Opcode::Binary, true, payload), start(true, 2, len) + (len ? "payload " + payload + "|" : "") + "end|");
  }
}

TEST_CASE("decoder: non-minimal length encodings are accepted", "[ws_frame_decoder_test]") {
  RawFrame f;
  f.payload = "hi";
  f.len_form = 16;
  check_all_splits(build(f), start(true, 1, 2) + "payload hi|end|");
  f.len_form = 64;
  check_all_splits(build(f), start(true, 1, 2) + "payload hi|end|");
}

TEST_CASE("decoder: several frames back to back", "[ws_frame_decoder_test]") {
  const Bytes input = concat({frame(Opcode::Text, false, "Hel"), frame(Opcode::Ping, true, ""),
                              frame(Opcode::Continuation, true, "lo", {1, 2, 3, 4}),
                              frame(Opcode::Close, true, std::string("\x03\xE8", 2))});
  check_all_splits(input, start(false, 1, 3) + "payload Hel|end|" + start(true, 9, 0) + "end|" +
                              start(true, 0, 2) + "payload lo|end|" + start(true, 8, 2) +
                              "payload \x03\xE8|end|");
}

TEST_CASE("decoder: unmasking is right for every length, key and offset", "[ws_frame_decoder_test]") {
  std::mt19937 rng(99);
  for (std::size_t len = 0; len <= 80; ++len) {
    std::string payload(len, '\0');
    for (char& c : payload) c = static_cast<char>(rng());
    const Key key = {static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng()),
                     static_cast<std::uint8_t>(rng()), static_cast<std::uint8_t>(rng())};
    const Bytes input = frame(Opcode::Binary, true, payload, key);
    INFO("len " << len);
    check_all_splits(input, start(true, 2, len) + (len ? "payload " + payload + "|" : "") + "end|");
  }
}

TEST_CASE("decoder: reserved bits", "[ws_frame_decoder_test]") {
  for (int rsv : {0x40, 0x20, 0x10, 0x70}) {
    RawFrame f;
    f.first_byte = static_cast<std::uint8_t>(0x81 | rsv);
    f.payload = "x";
    INFO("rsv " << int(rsv));
    check_all_splits(build(f), err(ProtocolError::ReservedBitsSet));
  }
}

TEST_CASE("decoder: unknown opcodes 3-7 and 11-15", "[ws_frame_decoder_test]") {
  for (int op : {3, 4, 5, 6, 7, 11, 12, 13, 14, 15}) {
    RawFrame f;
    f.first_byte = static_cast<std::uint8_t>(0x80 | op);
    INFO("op " << op);
    check_all_splits(build(f), err(ProtocolError::UnknownOpcode));
  }
}

TEST_CASE("decoder: control frames must not be fragmented", "[ws_frame_decoder_test]") {
  for (Opcode op : {Opcode::Close, Opcode::Ping, Opcode::Pong}) {
    check_all_splits(frame(op, false, "x"), err(ProtocolError::FragmentedControlFrame));
  }
}

TEST_CASE("decoder: control frames up to 125 bytes", "[ws_frame_decoder_test]") {
  for (Opcode op : {Opcode::Close, Opcode::Ping, Opcode::Pong}) {
    const std::string ok(125, 'p');
    check_all_splits(frame(op, true, ok), start(true, static_cast<int>(op), 125) + "payload " + ok + "|end|");
    check_all_splits(frame(op, true, std::string(126, 'p')), err(ProtocolError::ControlFrameTooLong));
    // Even a small length, written in the 16- or 64-bit form, is refused:
    // the 7-bit field alone (126/127) already says "more than 125".
    RawFrame f;
    f.first_byte = static_cast<std::uint8_t>(0x80 | static_cast<std::uint8_t>(op));
    f.payload = "x";
    f.len_form = 16;
    check_all_splits(build(f), err(ProtocolError::ControlFrameTooLong));
    f.len_form = 64;
    check_all_splits(build(f), err(ProtocolError::ControlFrameTooLong));
  }
}

TEST_CASE("decoder: client frames must be masked", "[ws_frame_decoder_test]") {
  RawFrame f;
  f.masked = false;
  f.payload = "Hello";
  check_all_splits(build(f), err(ProtocolError::UnmaskedClientFrame));
  // Without require_mask (a client decoding server frames) it is fine...
  check_all_splits(build(f), start(true, 1, 5, false) + "payload Hello|end|", false);
  // ...and a masked frame is still unmasked.
  check_all_splits(frame(Opcode::Text, true, "Hello"), start(true, 1, 5) + "payload Hello|end|", false);
}

TEST_CASE("decoder: 64-bit length with the most significant bit set", "[ws_frame_decoder_test]") {
  RawFrame f;
  f.first_byte = 0x82;
  f.override_length = true;
  f.declared_length = 0x8000000000000000ULL;
  f.len_form = 64;
  check_all_splits(build(f), err(ProtocolError::LengthTooLarge));
  f.declared_length = ~0ULL;
  check_all_splits(build(f), err(ProtocolError::LengthTooLarge));
  // The largest legal length is announced (its payload never comes here).
  f.declared_length = 0x7FFFFFFFFFFFFFFFULL;
  check_all_splits(build(f), start(true, 2, 0x7FFFFFFFFFFFFFFFULL));
}

TEST_CASE("decoder: the first rule broken, in the header's byte order, is reported", "[ws_frame_decoder_test]") {
  // RSV and unknown opcode: RSV first.
  RawFrame f;
  f.first_byte = 0x43;
  check_all_splits(build(f), err(ProtocolError::ReservedBitsSet));
  // Unknown opcode without FIN, unmasked: opcode first.
  f.first_byte = 0x0B;
  f.masked = false;
  check_all_splits(build(f), err(ProtocolError::UnknownOpcode));
  // Fragmented, unmasked, too-long ping: fragmentation (byte 0) first.
  f.first_byte = 0x09;
  f.payload = std::string(200, 'x');
  check_all_splits(build(f), err(ProtocolError::FragmentedControlFrame));
  // Unmasked, too-long ping: masking first.
  f.first_byte = 0x89;
  check_all_splits(build(f), err(ProtocolError::UnmaskedClientFrame));
}

TEST_CASE("decoder: errors are found without waiting for the rest of the header", "[ws_frame_decoder_test]") {
  auto first_error_after = [](const Bytes& input) -> std::size_t {
    FrameDecoder d;
    for (std::size_t i = 0; i < input.size(); ++i) {
      Bytes one{input[i]};
      std::size_t used = 0;
      if (d.next(one.data(), 1, used).kind == Kind::Error) return i + 1;
    }
    return 0;
  };
  CHECK(first_error_after({0xC1}) == 1);   // RSV1
  CHECK(first_error_after({0x83}) == 1);   // opcode 3
  CHECK(first_error_after({0x09}) == 1);   // fragmented ping
  CHECK(first_error_after({0x81, 0x05}) == 2);  // unmasked
  CHECK(first_error_after({0x89, 0xFE}) == 2);  // ping with 16-bit length
  CHECK(first_error_after({0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0}) == 3);  // length MSB
}

TEST_CASE("decoder: FrameEnd and NeedMore with empty input", "[ws_frame_decoder_test]") {
  FrameDecoder d;
  std::size_t used = 7;
  CHECK(d.next(nullptr, 0, used).kind == Kind::NeedMore);
  CHECK(used == 0);
  Bytes input = frame(Opcode::Ping, true, "");
  auto ev = d.next(input.data(), input.size(), used);
  REQUIRE(ev.kind == Kind::FrameStart);
  CHECK(used == input.size());
  CHECK(ev.header.opcode == Opcode::Ping);
  // The frame's end needs no more bytes.
  ev = d.next(nullptr, 0, used);
  CHECK(ev.kind == Kind::FrameEnd);
  CHECK(used == 0);
  CHECK(d.next(nullptr, 0, used).kind == Kind::NeedMore);
}

TEST_CASE("decoder: payload is unmasked in place and handed out from the caller's buffer", "[ws_frame_decoder_test]") {
  FrameDecoder d;
  Bytes input = frame(Opcode::Text, true, "in place");
  std::size_t used = 0;
  REQUIRE(d.next(input.data(), input.size(), used).kind == Kind::FrameStart);
  CHECK(used == 6);
  const auto ev = d.next(input.data() + used, input.size() - used, used);
  REQUIRE(ev.kind == Kind::Payload);
  CHECK(ev.data == input.data() + 6);
  CHECK(ev.size == 8);
  CHECK(std::string(input.begin() + 6, input.end()) == "in place");
}

TEST_CASE("decoder: payload is never over-consumed into the next frame", "[ws_frame_decoder_test]") {
  FrameDecoder d;
  Bytes input = concat({frame(Opcode::Binary, true, "abc"), frame(Opcode::Binary, true, "de")});
  std::size_t used = 0;
  std::size_t pos = 0;
  REQUIRE(d.next(input.data(), input.size(), used).kind == Kind::FrameStart);
  pos += used;
  const auto ev = d.next(input.data() + pos, input.size() - pos, used);
  REQUIRE(ev.kind == Kind::Payload);
  CHECK(ev.size == 3);
  pos += used;
  REQUIRE(d.next(input.data() + pos, input.size() - pos, used).kind == Kind::FrameEnd);
  CHECK(used == 0);
  REQUIRE(d.next(input.data() + pos, input.size() - pos, used).kind == Kind::FrameStart);
  CHECK(pos + used == input.size() - 2);
}
