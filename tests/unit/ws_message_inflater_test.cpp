// Incoming decompression (RFC 7692 §7.2.2): the RFC's example payloads,
// bytes made by another implementation, frame-sized pieces, the size limit
// checked while inflating (a bomb is stopped with the limit plus one byte
// held), corrupt and cut-short data, and memory per mode.
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "wsbridge/ws/inflate_state_pool.h"
#include "wsbridge/ws/message_deflater.h"
#include "wsbridge/ws/message_inflater.h"

using wsbridge::ws::close_code_for;
using wsbridge::ws::DeflateParameters;
using wsbridge::ws::IdleMemory;
using wsbridge::ws::InflateStatus;
using wsbridge::ws::MessageDeflater;
using wsbridge::ws::MessageInflater;

namespace {

std::vector<std::uint8_t> from_hex(const std::string& hex) {
  std::vector<std::uint8_t> bytes;
  for (std::size_t i = 0; i + 1 < hex.size(); i += 2) {
    bytes.push_back(static_cast<std::uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
  }
  return bytes;
}

// Feeds `payload` in pieces of `step` bytes, as frames would bring it, then
// finishes the message; the first failure is returned.
InflateStatus inflate_in_pieces(MessageInflater& inflater, const std::vector<std::uint8_t>& payload,
                                std::size_t step, std::string& out) {
  for (std::size_t at = 0; at < payload.size(); at += step) {
    const std::size_t size = std::min(step, payload.size() - at);
    const InflateStatus status = inflater.feed(payload.data() + at, size, out);
    if (status != InflateStatus::Ok) return status;
  }
  return inflater.finish(out);
}

std::string inflate_whole(MessageInflater& inflater, const std::vector<std::uint8_t>& payload) {
  std::string out;
  REQUIRE(inflate_in_pieces(inflater, payload, payload.empty() ? 1 : payload.size(), out) == InflateStatus::Ok);
  return out;
}

// The lines the fixture below was made from.
std::string sensor_lines(int from, int to) {
  std::string text;
  for (int i = from; i < to; ++i) {
    if (i > from) text += "\n";
    text += "{\"id\":" + std::to_string(i) + ",\"name\":\"sensor-" + std::to_string(i) +
            "\",\"value\":" + std::to_string(i * 3) + ",\"ok\":" + (i % 2 == 0 ? "true" : "false") + "}";
  }
  return text;
}

}  // namespace

TEST_CASE("the example payloads of RFC 7692 §7.2.3 inflate to \"Hello\"", "[ws_message_inflater_test]") {
  const std::vector<std::vector<std::uint8_t>> payloads = {
      {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},                          // §7.2.3.1 compressed
      {0x00, 0x05, 0x00, 0xfa, 0xff, 0x48, 0x65, 0x6c, 0x6c, 0x6f, 0x00},  // §7.2.3.3 stored block
      {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00, 0x00},                    // §7.2.3.4 BFINAL set
      {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00},                          // BFINAL, nothing after
      {0xf2, 0x48, 0x05, 0x00, 0x00, 0x00, 0xff, 0xff, 0xca, 0xc9, 0xc9, 0x07, 0x00},  // §7.2.3.5 two blocks
  };
  for (const bool no_takeover : {false, true}) {
    MessageInflater inflater(15, no_takeover, 0, IdleMemory::Release);
    for (const auto& payload : payloads) {
      for (std::size_t step = 1; step <= payload.size(); ++step) {
        INFO("payload of " << payload.size() << " bytes in pieces of " << step);
        std::string out;
        REQUIRE(inflate_in_pieces(inflater, payload, step, out) == InflateStatus::Ok);
        CHECK(out == "Hello");
      }
    }
  }
}

TEST_CASE("§7.2.3.2: the second message refers into the first one's window", "[ws_message_inflater_test]") {
  MessageInflater inflater(15, false, 0, IdleMemory::Release);
  CHECK(inflate_whole(inflater, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
  CHECK(inflate_whole(inflater, {0xf2, 0x00, 0x11, 0x00, 0x00}) == "Hello");
  // The window also survives a sender that ends its stream with BFINAL.
  MessageInflater after_final(15, false, 0, IdleMemory::Release);
  CHECK(inflate_whole(after_final, {0xf3, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
  CHECK(inflate_whole(after_final, {0xf2, 0x00, 0x11, 0x00, 0x00}) == "Hello");
  // Without takeover the reference has nothing to point at.
  MessageInflater alone(15, true, 0, IdleMemory::Release);
  CHECK(inflate_whole(alone, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
  std::string out;
  CHECK(inflate_in_pieces(alone, {0xf2, 0x00, 0x11, 0x00, 0x00}, 5, out) == InflateStatus::CorruptData);
}

TEST_CASE("empty messages: no payload, a lone 00, an empty fixed block", "[ws_message_inflater_test]") {
  MessageInflater inflater(15, false, 0, IdleMemory::Release);
  CHECK(inflate_whole(inflater, {}).empty());
  CHECK(inflate_whole(inflater, {0x00}).empty());
  CHECK(inflate_whole(inflater, {0x02, 0x00}).empty());
  CHECK(inflate_whole(inflater, {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}) == "Hello");
}

TEST_CASE("inflates what python's zlib made with wbits=-15 and context takeover", "[ws_message_inflater_test]") {
  // Made once with Debian's python3:
  //   c = zlib.compressobj(6, zlib.DEFLATED, -15, 8)
  //   for lines in (sensor lines 0..11, sensor lines 12..23):
  //       payload = (c.compress(lines) + c.flush(zlib.Z_SYNC_FLUSH))[:-4]
  // with the lines as sensor_lines() writes them, joined by "\n". The
  // second message refers back into the first.
  const auto first = from_hex(
      "6cd14d0ac2301005e0bdc79875854efe93db048c20d6161aeba67877a1821967"
      "b29eefcd5bbc1d6e1748e300737e144850cb5c97f53cc200af3c6de5b82d7748"
      "cf752befd37e70e41c1bd75f7ecd53fd79c5bd6adec9f79a73dd78ecbc37dc9b"
      "e651c9ff967b4bbced14381e7024106481e7de37afb0531078209080910591fb"
      "48bcef14a05818c9c4bab7b11c99aefc37f307");
  const auto second = from_hex(
      "6cd3b10d00310cc3c099a8d8d97fb46f52e8210dc0eac0570433e67c0a34218d"
      "519f664d6063da53b4096ecc7b9a37018e894f1127c831f36de6043aa6be459d"
      "60c7dcb7b92bdc65eeb7b82bdc65eeb7ee9d7ffbe0055e012f83bf3ff80f");
  REQUIRE(first.size() == 147);
  REQUIRE(second.size() == 94);
  for (const std::size_t step : {std::size_t{1}, std::size_t{7}, std::size_t{1000}}) {
    INFO("pieces of " << step);
    MessageInflater inflater(15, false, 0, IdleMemory::Release);
    std::string out;
    REQUIRE(inflate_in_pieces(inflater, first, step, out) == InflateStatus::Ok);
    CHECK(out == sensor_lines(0, 12));
    out.clear();
    REQUIRE(inflate_in_pieces(inflater, second, step, out) == InflateStatus::Ok);
    CHECK(out == sensor_lines(12, 24));
  }
}

TEST_CASE("a 10 MiB bomb is refused holding at most the limit plus one byte", "[ws_message_inflater_test]") {
  const std::string zeros(10 * 1024 * 1024, '\0');
  MessageDeflater deflater(15, true, IdleMemory::Release);
  std::string compressed;
  REQUIRE(deflater.compress(zeros, compressed));
  REQUIRE(compressed.size() < 16 * 1024);  // a few KiB that claim 10 MiB
  const std::vector<std::uint8_t> bomb(compressed.begin(), compressed.end());

  constexpr std::uint64_t kLimit = 1024 * 1024;
  for (const std::size_t step : {std::size_t{512}, bomb.size()}) {
    INFO("pieces of " << step);
    MessageInflater inflater(15, true, kLimit, IdleMemory::Release);
    std::string out;
    CHECK(inflate_in_pieces(inflater, bomb, step, out) == InflateStatus::MessageTooBig);
    CHECK(out.size() == kLimit + 1);
    // The output buffer never grew past what the limit can need.
    CHECK(out.capacity() <= kLimit + 1 + 64);
    // The failure sticks: the connection is to be closed with 1009.
    CHECK(inflater.feed(bomb.data(), 1, out) == InflateStatus::MessageTooBig);
    CHECK(inflater.finish(out) == InflateStatus::MessageTooBig);
    CHECK(out.size() == kLimit + 1);
    CHECK(close_code_for(InflateStatus::MessageTooBig) == 1009);
  }
  // Exactly at the limit is allowed; the check counts inflated bytes.
  MessageInflater exact(15, true, zeros.size(), IdleMemory::Release);
  std::string out;
  CHECK(inflate_in_pieces(exact, bomb, 4096, out) == InflateStatus::Ok);
  CHECK(out == zeros);
}

TEST_CASE("the limit applies per message and resets at each finish", "[ws_message_inflater_test]") {
  MessageDeflater deflater(15, false, IdleMemory::Release);
  MessageInflater inflater(15, false, 100, IdleMemory::Release);
  const std::string hundred(100, 'x');
  for (int i = 0; i < 3; ++i) {
    std::string payload;
    REQUIRE(deflater.compress(hundred, payload));
    CHECK(inflate_whole(inflater, std::vector<std::uint8_t>(payload.begin(), payload.end())) == hundred);
  }
  std::string payload;
  REQUIRE(deflater.compress(hundred + "y", payload));
  std::string out;
  CHECK(inflate_in_pieces(inflater, std::vector<std::uint8_t>(payload.begin(), payload.end()), 3, out) ==
        InflateStatus::MessageTooBig);
}

TEST_CASE("data that is not DEFLATE is refused with 1007", "[ws_message_inflater_test]") {
  const std::vector<std::vector<std::uint8_t>> corrupt = {
      {0x06},                                   // block type 3 is reserved
      {0xff, 0xff, 0xff, 0xff},                 // a dynamic block with impossible code lengths
      {0x00, 0x05, 0x00, 0x00, 0x00, 'a'},      // stored block whose length check fails
      {0xf2, 0x48, 0xcd},                       // "Hello" cut mid-block
  };
  for (const auto& payload : corrupt) {
    INFO("payload of " << payload.size() << " bytes");
    MessageInflater inflater(15, false, 0, IdleMemory::Release);
    std::string out;
    CHECK(inflate_in_pieces(inflater, payload, 1, out) == InflateStatus::CorruptData);
    CHECK(inflater.finish(out) == InflateStatus::CorruptData);
  }
  CHECK(close_code_for(InflateStatus::CorruptData) == 1007);
  CHECK(close_code_for(InflateStatus::OutOfMemory) == 1011);
  CHECK(close_code_for(InflateStatus::Ok) == 1000);
}

TEST_CASE("a distance beyond the agreed window is corrupt data", "[ws_message_inflater_test]") {
  // 300 distinct bytes, then the first 50 again: a 15-bit compressor refers
  // back 300 bytes, past what a client_max_window_bits=8 inflater holds.
  std::string text;
  for (int i = 0; i < 300; ++i) text.push_back(static_cast<char>((i * 37 + i / 256) & 0xff));
  text += text.substr(0, 50);
  MessageDeflater wide(15, true, IdleMemory::Release);
  std::string payload;
  REQUIRE(wide.compress(text, payload));
  // Fed byte by byte: within one call zlib may also reach back into that
  // call's own output, so larger pieces can stretch the window a little.
  MessageInflater narrow(8, true, 0, IdleMemory::Release);
  std::string out;
  CHECK(inflate_in_pieces(narrow, std::vector<std::uint8_t>(payload.begin(), payload.end()), 1, out) ==
        InflateStatus::CorruptData);
  MessageInflater full(15, true, 0, IdleMemory::Release);
  CHECK(inflate_whole(full, std::vector<std::uint8_t>(payload.begin(), payload.end())) == text);
}

TEST_CASE("the window is made on first use and released by mode", "[ws_message_inflater_test]") {
  const std::vector<std::uint8_t> hello = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  DeflateParameters agreed;
  agreed.client_no_context_takeover = true;
  MessageInflater released = MessageInflater::for_server(agreed, 0, IdleMemory::Release);
  CHECK(released.allocated_bytes() == 0);
  std::string out;
  REQUIRE(released.feed(hello.data(), hello.size(), out) == InflateStatus::Ok);
  // Mid-message it holds zlib's record and its 2^15-byte window.
  const std::size_t busy = released.allocated_bytes();
  CHECK(busy > (std::size_t{1} << 15));
  CHECK(busy < (std::size_t{1} << 15) + 16 * 1024);
  REQUIRE(released.finish(out) == InflateStatus::Ok);
  CHECK(released.allocated_bytes() == 0);

  MessageInflater kept(15, true, 0, IdleMemory::Keep);
  CHECK(inflate_whole(kept, hello) == "Hello");
  CHECK(kept.allocated_bytes() == busy);

  // Context takeover must keep the window.
  MessageInflater takeover(15, false, 0, IdleMemory::Release);
  CHECK(inflate_whole(takeover, hello) == "Hello");
  CHECK(takeover.allocated_bytes() == busy);

  // A 9-bit window holds 2^9 bytes, not 2^15.
  MessageInflater small(9, false, 0, IdleMemory::Keep);
  CHECK(inflate_whole(small, hello) == "Hello");
  CHECK(small.allocated_bytes() + (std::size_t{1} << 15) - (std::size_t{1} << 9) == busy);
}

TEST_CASE("a loop's pool lends one state to each message in turn", "[ws_message_inflater_test]") {
  const std::vector<std::uint8_t> hello = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  DeflateParameters agreed;
  agreed.client_no_context_takeover = true;
  wsbridge::ws::InflateStatePool pool;
  MessageInflater first = MessageInflater::for_server(agreed, 0, IdleMemory::Release);
  MessageInflater second = MessageInflater::for_server(agreed, 0, IdleMemory::Release);
  first.share_states(&pool);
  second.share_states(&pool);

  CHECK(inflate_whole(first, hello) == "Hello");
  // Given back at the message's end: the connection holds nothing idle.
  CHECK(first.allocated_bytes() == 0);
  CHECK(pool.kept() == 1);
  const std::size_t one_state = pool.allocated_bytes();
  CHECK(one_state > (std::size_t{1} << 15));

  // The other connection's message, fed in two pieces, uses that state.
  std::string out;
  REQUIRE(second.feed(hello.data(), 3, out) == InflateStatus::Ok);
  CHECK(pool.kept() == 0);
  CHECK(second.allocated_bytes() == one_state);
  REQUIRE(second.feed(hello.data() + 3, hello.size() - 3, out) == InflateStatus::Ok);
  REQUIRE(second.finish(out) == InflateStatus::Ok);
  CHECK(out == "Hello");
  CHECK(pool.kept() == 1);
  CHECK(pool.allocated_bytes() == one_state);

  // Two messages in flight at once need two states; both are kept after.
  std::string a, b;
  REQUIRE(first.feed(hello.data(), 3, a) == InflateStatus::Ok);
  REQUIRE(second.feed(hello.data(), 3, b) == InflateStatus::Ok);
  CHECK(pool.kept() == 0);
  REQUIRE(first.feed(hello.data() + 3, hello.size() - 3, a) == InflateStatus::Ok);
  REQUIRE(second.feed(hello.data() + 3, hello.size() - 3, b) == InflateStatus::Ok);
  REQUIRE(first.finish(a) == InflateStatus::Ok);
  REQUIRE(second.finish(b) == InflateStatus::Ok);
  CHECK(a == "Hello");
  CHECK(b == "Hello");
  CHECK(pool.kept() == 2);
}

TEST_CASE("the pool keeps at most kMostKept states and frees the rest", "[ws_message_inflater_test]") {
  const std::vector<std::uint8_t> hello = {0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00};
  DeflateParameters agreed;
  agreed.client_no_context_takeover = true;
  wsbridge::ws::InflateStatePool pool;
  constexpr std::size_t kMany = wsbridge::ws::InflateStatePool::kMostKept + 3;
  std::vector<MessageInflater> inflaters;
  for (std::size_t i = 0; i < kMany; ++i) {
    inflaters.push_back(MessageInflater::for_server(agreed, 0, IdleMemory::Release));
    inflaters.back().share_states(&pool);
  }
  std::vector<std::string> outs(kMany);
  for (std::size_t i = 0; i < kMany; ++i) REQUIRE(inflaters[i].feed(hello.data(), 3, outs[i]) == InflateStatus::Ok);
  for (std::size_t i = 0; i < kMany; ++i) {
    REQUIRE(inflaters[i].feed(hello.data() + 3, hello.size() - 3, outs[i]) == InflateStatus::Ok);
    REQUIRE(inflaters[i].finish(outs[i]) == InflateStatus::Ok);
    CHECK(outs[i] == "Hello");
  }
  CHECK(pool.kept() == wsbridge::ws::InflateStatePool::kMostKept);

  // A different window size is never handed a 15-bit state.
  MessageInflater small(9, true, 0, IdleMemory::Release);
  small.share_states(&pool);
  CHECK(inflate_whole(small, hello) == "Hello");
  CHECK(pool.kept() == wsbridge::ws::InflateStatePool::kMostKept);  // full: the 9-bit one was freed
}
