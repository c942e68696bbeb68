// Outgoing compression (RFC 7692 §7.2.1): round-trips through the inflater
// for every window size and both context modes, the RFC's own "Hello"
// bytes, the 8-bit window a zlib compressor cannot use, and the memory each
// mode holds between messages.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "wsbridge/ws/message_deflater.h"
#include "wsbridge/ws/message_inflater.h"

using wsbridge::ws::DeflateParameters;
using wsbridge::ws::IdleMemory;
using wsbridge::ws::InflateStatus;
using wsbridge::ws::MessageDeflater;
using wsbridge::ws::MessageInflater;

namespace {

// JSON-like lines with some random bytes mixed in: compressible, but with
// enough variety that matches reach far back into the window.
std::string sample_message(std::size_t size, std::uint32_t seed) {
  std::mt19937 random(seed);
  std::string text;
  while (text.size() < size) {
    const unsigned id = random() % 100000;
    text += "{\"id\":" + std::to_string(id) + ",\"name\":\"item-" + std::to_string(id % 97) + "\",\"tag\":\"";
    for (int i = 0; i < 6; ++i) text.push_back(static_cast<char>('a' + random() % 26));
    text += "\"}\n";
  }
  text.resize(size);
  return text;
}

std::string inflate_whole(MessageInflater& inflater, const std::string& payload) {
  std::string out;
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(payload.data());
  REQUIRE(inflater.feed(bytes, payload.size(), out) == InflateStatus::Ok);
  REQUIRE(inflater.finish(out) == InflateStatus::Ok);
  return out;
}

}  // namespace

TEST_CASE("compresses \"Hello\" to the bytes of RFC 7692 §7.2.3.1", "[ws_message_deflater_test]") {
  MessageDeflater deflater(15, true, IdleMemory::Release, MessageDeflater::kDefaultMemLevel, 6);
  std::string out = "prefix";
  REQUIRE(deflater.compress("Hello", out));
  CHECK(out == std::string("prefix\xf2\x48\xcd\xc9\xc9\x07\x00", 13));
}

TEST_CASE("the second \"Hello\" refers back into the first with context takeover (§7.2.3.2)",
          "[ws_message_deflater_test]") {
  MessageDeflater deflater(15, false, IdleMemory::Release);
  std::string first;
  std::string second;
  REQUIRE(deflater.compress("Hello", first));
  REQUIRE(deflater.compress("Hello", second));
  CHECK(second == std::string("\xf2\x00\x11\x00\x00", 5));
  // Without it every message stands alone and compresses the same.
  MessageDeflater alone(15, true, IdleMemory::Keep);
  first.clear();
  second.clear();
  REQUIRE(alone.compress("Hello", first));
  REQUIRE(alone.compress("Hello", second));
  CHECK(first == second);
}

TEST_CASE("an empty message is one 00 byte, also mid-stream", "[ws_message_deflater_test]") {
  MessageDeflater deflater(15, false, IdleMemory::Release);
  MessageInflater inflater(15, false, 0, IdleMemory::Release);
  for (const char* text : {"", "abcabc", "", "", "abcabc"}) {
    std::string payload;
    REQUIRE(deflater.compress(text, payload));
    if (*text == '\0') CHECK(payload == std::string(1, '\0'));
    CHECK(inflate_whole(inflater, payload) == text);
  }
}

TEST_CASE("round-trips 16 B to 128 KiB, window bits 9..15, both context modes", "[ws_message_deflater_test]") {
  const std::size_t sizes[] = {16, 200, 4000, 40000, 128 * 1024};
  for (int bits = 9; bits <= 15; ++bits) {
    for (const bool no_takeover : {false, true}) {
      INFO("window bits " << bits << (no_takeover ? ", no context takeover" : ", context takeover"));
      MessageDeflater deflater(bits, no_takeover, IdleMemory::Release);
      MessageInflater inflater(bits, no_takeover, 0, IdleMemory::Release);
      std::uint32_t seed = 1;
      for (const std::size_t size : sizes) {
        INFO("size " << size);
        // The same text twice: with takeover the repeat shrinks to almost nothing.
        const std::string message = sample_message(size, seed++);
        std::string first;
        std::string again;
        REQUIRE(deflater.compress(message, first));
        REQUIRE(deflater.compress(message, again));
        if (size >= 4000) CHECK(first.size() < message.size() / 2);
        // zlib reaches back at most 2^bits - 262 bytes.
        if (!no_takeover && size > 16 && size + 262 < (std::size_t{1} << bits)) {
          CHECK(again.size() < first.size() / 4);
        }
        CHECK(inflate_whole(inflater, first) == message);
        CHECK(inflate_whole(inflater, again) == message);
      }
    }
  }
}

TEST_CASE("window 8: compressed with zlib's 9 bits, inflated with an 8-bit window", "[ws_message_deflater_test]") {
  // zlib keeps matches within 2^9 - 262 = 250 bytes, so an inflater that
  // holds only 256 bytes never meets a distance too far back, even as the
  // context carries over from message to message.
  DeflateParameters agreed;
  agreed.server_max_window_bits = 8;
  MessageDeflater deflater = MessageDeflater::for_server(agreed, IdleMemory::Release);
  MessageInflater inflater(8, false, 0, IdleMemory::Release);
  for (std::uint32_t seed = 1; seed <= 6; ++seed) {
    const std::string message = sample_message(3000, seed % 3);
    std::string payload;
    REQUIRE(deflater.compress(message, payload));
    CHECK(inflate_whole(inflater, payload) == message);
  }
}

TEST_CASE("zlib state is made on first use and released by mode", "[ws_message_deflater_test]") {
  // Bounds of zlib's documented formula for deflate: 2^(windowBits+2) +
  // 2^(memLevel+9) plus its ~6 KiB stream record.
  MessageDeflater released(15, true, IdleMemory::Release);
  CHECK(released.allocated_bytes() == 0);
  std::string out;
  REQUIRE(released.compress(sample_message(500, 1), out));
  CHECK(released.allocated_bytes() == 0);

  MessageDeflater kept(15, true, IdleMemory::Keep);
  REQUIRE(kept.compress(sample_message(500, 1), out));
  // The default memLevel is 4: 2^17 + 2^13 + the record.
  const std::size_t full = kept.allocated_bytes();
  CHECK(full > (std::size_t{1} << 17) + (std::size_t{1} << 13));
  CHECK(full < (std::size_t{1} << 17) + (std::size_t{1} << 13) + 16 * 1024);

  // Context takeover must keep it, whatever was asked.
  MessageDeflater takeover(15, false, IdleMemory::Release);
  REQUIRE(takeover.compress(sample_message(500, 1), out));
  CHECK(takeover.allocated_bytes() == full);

  // A smaller window and memLevel hold less: 2^11 + 2^10 + record.
  MessageDeflater small(9, false, IdleMemory::Keep, 1, 6);
  REQUIRE(small.compress(sample_message(500, 1), out));
  CHECK(small.allocated_bytes() < 16 * 1024);
}

TEST_CASE("a moved deflater keeps its stream", "[ws_message_deflater_test]") {
  MessageDeflater deflater(15, false, IdleMemory::Release);
  std::string first;
  REQUIRE(deflater.compress("Hello", first));
  MessageDeflater moved = std::move(deflater);
  std::string second;
  REQUIRE(moved.compress("Hello", second));
  CHECK(second == std::string("\xf2\x00\x11\x00\x00", 5));
  MessageDeflater assigned(9, true, IdleMemory::Keep);
  assigned = std::move(moved);
  std::string third;
  REQUIRE(assigned.compress("Hello", third));
  CHECK(third.size() <= 5);  // still a reference back, not the literal text
  MessageInflater inflater(15, false, 0, IdleMemory::Release);
  for (const std::string* payload : {&first, &second, &third}) {
    std::string out;
    REQUIRE(inflater.feed(reinterpret_cast<const std::uint8_t*>(payload->data()), payload->size(), out) ==
            InflateStatus::Ok);
    REQUIRE(inflater.finish(out) == InflateStatus::Ok);
    CHECK(out == "Hello");
  }
}
