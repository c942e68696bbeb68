// Message reader: message order (§5.4), control frames between fragments,
// close payloads, incremental UTF-8, the size limit, zero-copy delivery and
// buffer release — each fed whole, byte by byte, split at every byte and in
// random pieces.
#include <catch2/catch.hpp>

#include <array>
#include <cstdint>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "split_plans.h"
#include "wsbridge/ws/message_reader.h"

using namespace wsbridge::ws;
using Kind = MessageReader::EventKind;

namespace {

using Bytes = std::vector<std::uint8_t>;

// A masked client frame; length_override announces a length without
// sending that many bytes (for size-limit tests).
Bytes frame(Opcode op, bool fin, const std::string& payload, bool override_length = false,
            std::uint64_t declared = 0) {
  static const std::array<std::uint8_t, 4> key = {0xA1, 0x02, 0xC3, 0x74};
  Bytes out;
  out.push_back(static_cast<std::uint8_t>((fin ? 0x80 : 0) | static_cast<std::uint8_t>(op)));
  const std::uint64_t len = override_length ? declared : payload.size();
  if (len < 126) {
    out.push_back(static_cast<std::uint8_t>(0x80 | len));
  } else if (len <= 0xFFFF) {
    out.push_back(0x80 | 126);
    out.push_back(static_cast<std::uint8_t>(len >> 8));
    out.push_back(static_cast<std::uint8_t>(len));
  } else {
    out.push_back(0x80 | 127);
    for (int k = 7; k >= 0; --k) out.push_back(static_cast<std::uint8_t>(len >> (8 * k)));
  }
  out.insert(out.end(), key.begin(), key.end());
  for (std::size_t i = 0; i < payload.size(); ++i) {
    out.push_back(static_cast<std::uint8_t>(static_cast<std::uint8_t>(payload[i]) ^ key[i % 4]));
  }
  return out;
}

Bytes text(const std::string& s, bool fin = true) { return frame(Opcode::Text, fin, s); }
Bytes binary(const std::string& s, bool fin = true) { return frame(Opcode::Binary, fin, s); }
Bytes cont(const std::string& s, bool fin) { return frame(Opcode::Continuation, fin, s); }
Bytes ping(const std::string& s) { return frame(Opcode::Ping, true, s); }
Bytes pong(const std::string& s) { return frame(Opcode::Pong, true, s); }
Bytes close_frame(const std::string& s) { return frame(Opcode::Close, true, s); }
Bytes close_with(std::uint16_t code, const std::string& reason = "") {
  std::string p;
  p += static_cast<char>(code >> 8);
  p += static_cast<char>(code & 0xFF);
  return close_frame(p + reason);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const Bytes& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

std::string describe_event(const MessageReader::Event& ev) {
  std::ostringstream s;
  switch (ev.kind) {
    case Kind::Message: s << (ev.binary ? "binary " : "text ") << ev.payload; break;
    case Kind::Ping: s << "ping " << ev.payload; break;
    case Kind::Pong: s << "pong " << ev.payload; break;
    case Kind::Close: s << "close " << ev.close_code << " " << ev.payload; break;
    case Kind::Error: s << "error " << describe(ev.error); break;
    case Kind::NeedMore: s << "needmore"; break;
  }
  s << "|";
  return s.str();
}

// Feeds input in pieces, draining events until NeedMore after each piece,
// and returns the transcript. Stops at the first Error, after checking that
// the reader repeats it.
std::string run(MessageReader& reader, const Bytes& input, const std::vector<std::size_t>& pieces) {
  std::string log;
  wsbridge::test::feed_pieces(input, pieces, [&](std::uint8_t* data, std::size_t size, std::size_t& used) {
    const auto ev = reader.next(data, size, used);
    if (ev.kind == Kind::NeedMore) return wsbridge::test::Fed::NeedMore;
    log += describe_event(ev);
    if (ev.kind != Kind::Error) return wsbridge::test::Fed::Again;
    Bytes more = text("more");
    std::size_t used_after = 5;
    const auto again = reader.next(more.data(), more.size(), used_after);
    CHECK(again.kind == Kind::Error);
    CHECK(again.error == ev.error);
    CHECK(used_after == 0);
    return wsbridge::test::Fed::Stop;
  });
  return log;
}

// deflate: the reader has agreed permessage-deflate (with context takeover).
std::string run(const Bytes& input, const std::vector<std::size_t>& pieces, std::uint64_t max = 0,
                bool deflate = false) {
  MessageReader reader(max);
  if (deflate) reader.inflate_compressed_messages(DeflateParameters{});
  return run(reader, input, pieces);
}

void check_all_splits(const Bytes& input, const std::string& expected, std::uint64_t max = 0,
                      bool deflate = false) {
  CHECK(run(input, {input.size()}, max, deflate) == expected);
  const auto seed = static_cast<std::uint32_t>(input.size() * 31 + 5);
  for (const auto& plan : wsbridge::test::split_plans(input.size(), seed, {input.size() <= 2048, 25, 23})) {
    INFO("pieces " << plan.size() << " first " << plan.front());
    REQUIRE(run(input, plan, max, deflate) == expected);
  }
}

std::string err(ProtocolError e) { return std::string("error ") + describe(e) + "|"; }

}  // namespace

TEST_CASE("reader: single-frame text and binary messages", "[ws_message_reader_test]") {
  check_all_splits(text("Hello"), "text Hello|");
  check_all_splits(binary(std::string("\x00\xFF\x80", 3)), std::string("binary \x00\xFF\x80|", 11));
  check_all_splits(text(""), "text |");
  check_all_splits(binary(""), "binary |");
  check_all_splits(concat({text("a"), binary("b"), text("c")}), "text a|binary b|text c|");
}

TEST_CASE("reader: fragmented messages are reassembled", "[ws_message_reader_test]") {
  check_all_splits(concat({text("Hel", false), cont("lo ", false), cont("world", true)}), "text Hello world|");
  check_all_splits(concat({binary("ab", false), cont("", false), cont("cd", true)}), "binary abcd|");
  check_all_splits(concat({text("", false), cont("", true)}), "text |");
  // Two fragmented messages in a row reuse the buffer correctly.
  check_all_splits(concat({text("one", false), cont("1", true), binary("two", false), cont("2", true)}),
                   "text one1|binary two2|");
}

TEST_CASE("reader: control frames between fragments", "[ws_message_reader_test]") {
  check_all_splits(concat({text("Hel", false), ping("p1"), cont("lo", false), pong(""), ping(""),
                           cont("!", true)}),
                   "ping p1|pong |ping |text Hello!|");
  check_all_splits(concat({binary("x", false), close_with(1000, "bye")}), "close 1000 bye|");
  check_all_splits(ping(std::string(125, 'q')), "ping " + std::string(125, 'q') + "|");
  check_all_splits(concat({ping("a"), pong("b"), text("c")}), "ping a|pong b|text c|");
}

TEST_CASE("reader: sequence errors", "[ws_message_reader_test]") {
  check_all_splits(cont("x", true), err(ProtocolError::UnexpectedContinuation));
  check_all_splits(cont("x", false), err(ProtocolError::UnexpectedContinuation));
  check_all_splits(concat({text("a"), cont("b", true)}), "text a|" + err(ProtocolError::UnexpectedContinuation));
  check_all_splits(concat({text("a", false), text("b")}), err(ProtocolError::ExpectedContinuation));
  check_all_splits(concat({text("a", false), binary("b")}), err(ProtocolError::ExpectedContinuation));
  check_all_splits(concat({binary("a", false), ping(""), binary("b", false)}),
                   "ping |" + err(ProtocolError::ExpectedContinuation));
}

TEST_CASE("reader: frame errors from the decoder are passed through", "[ws_message_reader_test]") {
  Bytes unmasked = {0x81, 0x01, 'x'};
  check_all_splits(unmasked, err(ProtocolError::UnmaskedClientFrame));
  check_all_splits(concat({text("ok"), Bytes{0xC1, 0x80, 0, 0, 0, 0}}), "text ok|" + err(ProtocolError::ReservedBitsSet));
  check_all_splits(Bytes{0x83, 0x80, 0, 0, 0, 0}, err(ProtocolError::UnknownOpcode));
  check_all_splits(frame(Opcode::Ping, false, ""), err(ProtocolError::FragmentedControlFrame));
  check_all_splits(ping(std::string(126, 'x')), err(ProtocolError::ControlFrameTooLong));
  check_all_splits(frame(Opcode::Binary, true, "", true, 0x8000000000000000ULL), err(ProtocolError::LengthTooLarge));
}

TEST_CASE("reader: close payloads", "[ws_message_reader_test]") {
  check_all_splits(close_frame(""), "close 1005 |");
  check_all_splits(close_frame("\x03"), err(ProtocolError::ClosePayloadTooShort));
  check_all_splits(close_with(1000), "close 1000 |");
  check_all_splits(close_with(1001, "going away"), "close 1001 going away|");
  check_all_splits(close_with(4000, "caf\xC3\xA9"), "close 4000 caf\xC3\xA9|");
  check_all_splits(close_with(1000, std::string(123, 'r')), "close 1000 " + std::string(123, 'r') + "|");
  check_all_splits(close_with(1000, "\xC3"), err(ProtocolError::InvalidCloseReasonUtf8));
  check_all_splits(close_with(1000, "ok\xFF"), err(ProtocolError::InvalidCloseReasonUtf8));
  check_all_splits(close_with(1000, "\xED\xA0\x80"), err(ProtocolError::InvalidCloseReasonUtf8));
  // An invalid code is reported before a bad reason is looked at.
  check_all_splits(close_with(1005, "\xFF"), err(ProtocolError::InvalidCloseCode));
}

TEST_CASE("reader: close codes on the wire", "[ws_message_reader_test]") {
  struct Case {
    std::uint16_t code;
    bool valid;
  };
  const Case cases[] = {{0, false},    {999, false},  {1000, true},  {1003, true},  {1004, false},
                        {1005, false}, {1006, false}, {1007, true},  {1011, true},  {1012, true},
                        {1013, true},  {1014, true},  {1015, false}, {1016, false}, {2999, false},
                        {3000, true},  {4999, true},  {5000, false}, {65535, false}};
  for (const Case& c : cases) {
    INFO("code " << c.code);
    const std::string expected =
        c.valid ? "close " + std::to_string(c.code) + " why|" : err(ProtocolError::InvalidCloseCode);
    check_all_splits(close_with(c.code, "why"), expected);
  }
}

TEST_CASE("reader: text UTF-8 across fragments", "[ws_message_reader_test]") {
  // A code point split over fragments (and a ping in between) is fine.
  check_all_splits(concat({text("\xE2\x82", false), ping(""), cont("\xAC", true)}), "ping |text \xE2\x82\xAC|");
  check_all_splits(concat({text("\xF0", false), cont("\x9F", false), cont("\x98", false), cont("\x80", true)}),
                   "text \xF0\x9F\x98\x80|");
  // Binary messages are not checked.
  check_all_splits(binary("\xFF\xC0"), "binary \xFF\xC0|");
  // Invalid bytes.
  check_all_splits(text("\xFF"), err(ProtocolError::InvalidTextUtf8));
  check_all_splits(text("\xED\xA0\x80"), err(ProtocolError::InvalidTextUtf8));
  check_all_splits(text("\xC0\xAF"), err(ProtocolError::InvalidTextUtf8));
  check_all_splits(text("\xF4\x90\x80\x80"), err(ProtocolError::InvalidTextUtf8));
  // A message ending inside a code point fails at its last frame.
  check_all_splits(text("abc\xE2\x82"), err(ProtocolError::InvalidTextUtf8));
  check_all_splits(concat({text("abc\xE2", false), cont("\x82", true)}), err(ProtocolError::InvalidTextUtf8));
  // A complete code point after a ping is still required to finish.
  check_all_splits(concat({text("a\xC3", false), ping("x"), cont("b", true)}),
                   "ping x|" + err(ProtocolError::InvalidTextUtf8));
}

TEST_CASE("reader: bad UTF-8 fails at once, before the message is complete", "[ws_message_reader_test]") {
  SECTION("in the first fragment") {
    MessageReader reader(0);
    Bytes first = text("ok\xFF", false);  // no FIN: the message is far from over
    std::size_t used = 0;
    const auto ev = reader.next(first.data(), first.size(), used);
    CHECK(ev.kind == Kind::Error);
    CHECK(ev.error == ProtocolError::InvalidTextUtf8);
  }
  SECTION("inside a frame whose payload has only partly arrived") {
    MessageReader reader(0);
    Bytes whole = text(std::string(100, 'a') + "\xC0" + std::string(1000, 'b'));
    // Header (4 bytes: 16-bit length) + mask (4) + 101 payload bytes.
    const std::size_t part = 8 + 101;
    std::size_t used = 0;
    const auto ev = reader.next(whole.data(), part, used);
    CHECK(ev.kind == Kind::Error);
    CHECK(ev.error == ProtocolError::InvalidTextUtf8);
  }
  SECTION("in a later fragment") {
    MessageReader reader(0);
    Bytes input = concat({text("good", false), cont("\xE2\x28\xA1", false)});
    CHECK(run(reader, input, {input.size()}) == err(ProtocolError::InvalidTextUtf8));
  }
}

TEST_CASE("reader: message size limit", "[ws_message_reader_test]") {
  const std::string ten(10, 'x');
  check_all_splits(text(ten), "text " + ten + "|", 10);
  check_all_splits(text(ten + "y"), err(ProtocolError::MessageTooBig), 10);
  check_all_splits(concat({text("12345", false), cont("67890", true)}), "text 1234567890|", 10);
  check_all_splits(concat({text("12345", false), cont("67890", false), cont("1", true)}),
                   err(ProtocolError::MessageTooBig), 10);
  check_all_splits(concat({binary("12345", false), cont("67890", false), cont("", true)}),
                   "binary 1234567890|", 10);
  // The limit is per message, not per connection.
  check_all_splits(concat({text(ten), text(ten), binary(ten)}), "text " + ten + "|text " + ten + "|binary " + ten + "|", 10);
  // Control frames do not count.
  check_all_splits(concat({text("12345", false), ping(std::string(100, 'p')), cont("67890", true)}),
                   "ping " + std::string(100, 'p') + "|text 1234567890|", 10);
  // 0 means unlimited.
  check_all_splits(binary(std::string(70000, 'z')), "binary " + std::string(70000, 'z') + "|", 0);
}

TEST_CASE("reader: too-big is refused from the header, before the payload", "[ws_message_reader_test]") {
  SECTION("single frame announcing more than the limit") {
    MessageReader reader(1024);
    // Only the 14-byte header of a frame announcing 1 GiB; no payload at all.
    Bytes header = frame(Opcode::Binary, true, "", true, 1ULL << 30);
    REQUIRE(header.size() == 14);
    std::size_t used = 0;
    const auto ev = reader.next(header.data(), header.size(), used);
    CHECK(ev.kind == Kind::Error);
    CHECK(ev.error == ProtocolError::MessageTooBig);
    CHECK(reader.buffer_capacity() < 1024);
  }
  SECTION("later fragment pushes the total over") {
    MessageReader reader(1000);
    Bytes input = concat({binary(std::string(600, 'a'), false), frame(Opcode::Continuation, true, "", true, 401)});
    CHECK(run(reader, input, {input.size()}) == err(ProtocolError::MessageTooBig));
  }
  SECTION("a huge declared length cannot overflow the running total") {
    MessageReader reader(1000);
    Bytes input = concat({binary("abc", false), frame(Opcode::Continuation, true, "", true, 0x7FFFFFFFFFFFFFFFULL)});
    CHECK(run(reader, input, {input.size()}) == err(ProtocolError::MessageTooBig));
  }
}

TEST_CASE("reader: an unfragmented frame inside the buffer is delivered without a copy", "[ws_message_reader_test]") {
  MessageReader reader(0);
  Bytes input = concat({text("zero copy"), binary("second")});
  std::size_t used = 0;
  auto ev = reader.next(input.data(), input.size(), used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload == "zero copy");
  const auto* base = reinterpret_cast<const char*>(input.data());
  CHECK(ev.payload.data() == base + 6);  // right after the 2-byte header and 4-byte key
  CHECK(reader.buffer_capacity() < 64);  // nothing was buffered
  std::size_t pos = used;
  ev = reader.next(input.data() + pos, input.size() - pos, used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload == "second");
  CHECK(ev.payload.data() == base + pos + 6);
}

TEST_CASE("reader: a split or fragmented message is delivered from the internal buffer", "[ws_message_reader_test]") {
  SECTION("frame split across reads") {
    MessageReader reader(0);
    Bytes input = text("assembled");
    std::size_t used = 0;
    CHECK(reader.next(input.data(), 10, used).kind == Kind::NeedMore);
    CHECK(used == 10);
    const auto ev = reader.next(input.data() + 10, input.size() - 10, used);
    REQUIRE(ev.kind == Kind::Message);
    CHECK(ev.payload == "assembled");
    const auto* base = reinterpret_cast<const char*>(input.data());
    CHECK((ev.payload.data() < base || ev.payload.data() >= base + input.size()));
  }
  SECTION("fragmented message in one read") {
    MessageReader reader(0);
    Bytes input = concat({text("frag", false), cont("mented", true)});
    std::size_t used = 0;
    const auto ev = reader.next(input.data(), input.size(), used);
    REQUIRE(ev.kind == Kind::Message);
    CHECK(ev.payload == "fragmented");
    CHECK(used == input.size());
  }
}

TEST_CASE("reader: the buffer of a large message is released, a small one kept", "[ws_message_reader_test]") {
  MessageReader reader(0);
  const std::string big(100 * 1024, 'B');
  Bytes input = concat({binary(big.substr(0, 50000), false), cont(big.substr(50000), true)});
  std::size_t used = 0;
  auto ev = reader.next(input.data(), input.size(), used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload == big);
  CHECK(reader.buffer_capacity() >= big.size());
  // The drain call that returns NeedMore gives the memory back.
  ev = reader.next(nullptr, 0, used);
  CHECK(ev.kind == Kind::NeedMore);
  CHECK(reader.buffer_capacity() < 64 * 1024);
  CHECK(reader.buffer_capacity() < 100);

  // A small fragmented message keeps its buffer for reuse.
  Bytes small = concat({text(std::string(1000, 's'), false), cont("!", true)});
  ev = reader.next(small.data(), small.size(), used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload.size() == 1001);
  ev = reader.next(nullptr, 0, used);
  CHECK(ev.kind == Kind::NeedMore);
  CHECK(reader.buffer_capacity() >= 1001);
}

TEST_CASE("reader: the view stays valid until the next call", "[ws_message_reader_test]") {
  // Deliver a large fragmented message and read the whole view before
  // calling next() again: ASan would flag a freed buffer.
  MessageReader reader(0);
  const std::string big(200 * 1024, 'v');
  Bytes input = concat({text(big.substr(0, 1000), false), cont(big.substr(1000), true), text("after")});
  std::size_t used = 0;
  auto ev = reader.next(input.data(), input.size(), used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload == big);
  std::size_t pos = used;
  ev = reader.next(input.data() + pos, input.size() - pos, used);
  REQUIRE(ev.kind == Kind::Message);
  CHECK(ev.payload == "after");
}

TEST_CASE("reader: empty input and nullptr give NeedMore", "[ws_message_reader_test]") {
  MessageReader reader(0);
  std::size_t used = 3;
  CHECK(reader.next(nullptr, 0, used).kind == Kind::NeedMore);
  CHECK(used == 0);
}

TEST_CASE("reader: a long random conversation, in random pieces", "[ws_message_reader_test]") {
  std::mt19937 rng(4242);
  Bytes input;
  std::string expected;
  for (int m = 0; m < 200; ++m) {
    const bool is_binary = rng() % 2 == 0;
    const std::size_t fragments = 1 + rng() % 4;
    std::string whole;
    std::string pings_before;  // pings between fragments come out before the message
    std::string pings_after;   // a ping after the last fragment comes out after it
    for (std::size_t f = 0; f < fragments; ++f) {
      std::string part(rng() % 300, '\0');
      for (char& c : part) c = is_binary ? static_cast<char>(rng()) : static_cast<char>('a' + rng() % 26);
      whole += part;
      const Opcode op = f == 0 ? (is_binary ? Opcode::Binary : Opcode::Text) : Opcode::Continuation;
      const Bytes fr = frame(op, f + 1 == fragments, part);
      input.insert(input.end(), fr.begin(), fr.end());
      if (rng() % 5 == 0) {
        const Bytes p = ping("p" + std::to_string(m));
        input.insert(input.end(), p.begin(), p.end());
        (f + 1 == fragments ? pings_after : pings_before) += "ping p" + std::to_string(m) + "|";
      }
    }
    expected += pings_before + (is_binary ? "binary " : "text ") + whole + "|" + pings_after;
  }
  CHECK(run(input, {input.size()}) == expected);
  for (const auto& plan : wsbridge::test::split_plans(input.size(), 777, {false, 25, 23})) REQUIRE(run(input, plan) == expected);
}

// ---- permessage-deflate (RFC 7692): RSV1 messages are inflated ----

namespace {

Bytes with_rsv1(Bytes f) {
  f[0] |= 0x40;
  return f;
}

constexpr bool kDeflate = true;

std::string run_deflate(const Bytes& input, const std::vector<std::size_t>& pieces, std::uint64_t max = 0) {
  return run(input, pieces, max, kDeflate);
}

void check_all_splits_deflate(const Bytes& input, const std::string& expected, std::uint64_t max = 0) {
  check_all_splits(input, expected, max, kDeflate);
}

// What a client with context takeover sends for `message`.
std::string client_compress(MessageDeflater& deflater, const std::string& message) {
  std::string out;
  REQUIRE(deflater.compress(message, out));
  return out;
}

}  // namespace

TEST_CASE("reader+deflate: RFC 7692's \"Hello\" inflates, whole and in every split", "[ws_message_reader_test]") {
  const std::string hello_deflated("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);  // §7.2.3.1
  check_all_splits_deflate(with_rsv1(text(hello_deflated)), "text Hello|");
  check_all_splits_deflate(with_rsv1(binary(hello_deflated)), "binary Hello|");
  // An empty message compresses to one 0x00 byte (§7.2.3.6).
  check_all_splits_deflate(with_rsv1(text(std::string(1, '\0'))), "text |");
}

TEST_CASE("reader+deflate: a fragmented compressed message with a ping between its fragments", "[ws_message_reader_test]") {
  MessageDeflater client(15, false, IdleMemory::Keep);
  const std::string line = "sensor 17 reads 21.5 degrees, sensor 18 reads 21.5 degrees";
  const std::string payload = client_compress(client, line);
  REQUIRE(payload.size() > 4);
  const std::size_t half = payload.size() / 2;
  const Bytes input = concat({with_rsv1(text(payload.substr(0, half), false)), ping("p"),
                              cont(payload.substr(half), true)});
  check_all_splits_deflate(input, "ping p|text " + line + "|");
}

TEST_CASE("reader+deflate: compressed and plain messages alternate, the window carries over", "[ws_message_reader_test]") {
  MessageDeflater client(15, false, IdleMemory::Keep);
  const std::string first = "the quick brown fox jumps over the lazy dog";
  const std::string second = "the quick brown fox jumps over the lazy dog again";
  const std::string a = client_compress(client, first);
  const std::string b = client_compress(client, second);
  // The second refers back into the first message's window: shorter than alone.
  MessageDeflater fresh(15, false, IdleMemory::Keep);
  REQUIRE(b.size() < client_compress(fresh, second).size());
  const Bytes input = concat({with_rsv1(text(a)), text("plain"), with_rsv1(text(b)), binary("raw")});
  check_all_splits_deflate(input, "text " + first + "|text plain|text " + second + "|binary raw|");
}

TEST_CASE("reader+deflate: where RSV1 is not allowed", "[ws_message_reader_test]") {
  const std::string hello_deflated("\xf2\x48\xcd\xc9\xc9\x07\x00", 7);
  // Not agreed: RSV1 is a reserved bit like any other.
  check_all_splits(with_rsv1(text(hello_deflated)), err(ProtocolError::ReservedBitsSet));
  // Agreed, but only the first frame of a data message may carry it (§6.1).
  check_all_splits_deflate(concat({with_rsv1(text(hello_deflated.substr(0, 3), false)),
                                   with_rsv1(cont(hello_deflated.substr(3), true))}),
                           err(ProtocolError::ReservedBitsSet));
  check_all_splits_deflate(with_rsv1(ping("x")), err(ProtocolError::ReservedBitsSet));
  Bytes rsv2 = text("x");
  rsv2[0] |= 0x20;
  check_all_splits_deflate(rsv2, err(ProtocolError::ReservedBitsSet));
}

TEST_CASE("reader+deflate: data that does not inflate, and bad UTF-8 inside a compressed text", "[ws_message_reader_test]") {
  check_all_splits_deflate(with_rsv1(text("\xff\xff\xff\xff")), err(ProtocolError::InvalidCompressedData));
  MessageDeflater client(15, true, IdleMemory::Keep);
  const std::string bad_utf8 = client_compress(client, "caf\xc3");  // cut inside é
  check_all_splits_deflate(with_rsv1(text(bad_utf8)), err(ProtocolError::InvalidTextUtf8));
  // The same bytes as binary are fine.
  check_all_splits_deflate(with_rsv1(binary(bad_utf8)), "binary caf\xc3|");
}

TEST_CASE("reader+deflate: a 10 MiB bomb is refused with 1009, holding about the limit", "[ws_message_reader_test]") {
  constexpr std::uint64_t kLimit = 1024 * 1024;
  MessageDeflater client(15, true, IdleMemory::Keep);
  const std::string bomb = client_compress(client, std::string(10 * 1024 * 1024, '\0'));
  REQUIRE(bomb.size() < 16 * 1024);
  MessageReader reader(kLimit);
  reader.inflate_compressed_messages(DeflateParameters{});
  Bytes input = with_rsv1(binary(bomb));
  std::size_t used = 0;
  const auto ev = reader.next(input.data(), input.size(), used);
  REQUIRE(ev.kind == Kind::Error);
  CHECK(ev.error == ProtocolError::MessageTooBig);
  CHECK(close_code_for(ev.error) == 1009);
  CHECK(reader.buffer_capacity() <= kLimit + 1);
}

TEST_CASE("reader+deflate: the limit is on the inflated size; the wire size may exceed it a little", "[ws_message_reader_test]") {
  constexpr std::uint64_t kLimit = 4096;
  std::mt19937 random(7);
  std::string noise(kLimit, '\0');
  for (char& c : noise) c = static_cast<char>(random() & 0xFF);
  MessageDeflater client(15, true, IdleMemory::Keep);
  const std::string stored = client_compress(client, noise);
  REQUIRE(stored.size() > kLimit);  // incompressible: longer on the wire than the limit
  const Bytes at_limit = with_rsv1(binary(stored));
  CHECK(run_deflate(at_limit, {at_limit.size()}, kLimit) == "binary " + noise + "|");
  // One inflated byte over the limit is too big.
  const std::string over = client_compress(client, noise + "x");
  const Bytes past_limit = with_rsv1(binary(over));
  CHECK(run_deflate(past_limit, {past_limit.size()}, kLimit) == err(ProtocolError::MessageTooBig));
  // A declared wire length no inflated size within the limit could need is refused from the header.
  const Bytes huge = with_rsv1(frame(Opcode::Binary, true, "", true, 2 * kLimit));
  CHECK(run_deflate(huge, {huge.size()}, kLimit) == err(ProtocolError::MessageTooBig));
}
