// Fuzzes the permessage-deflate inflater with arbitrary payloads fed in
// arbitrary pieces, and the deflater/inflater pair with arbitrary text.
//  - Whatever comes in, the output of one message never exceeds the limit
//    by more than one byte, and a failure sticks to every later call.
//  - Any text compressed with any window and context mode inflates back to
//    itself, message after message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/ws/message_deflater.h"
#include "wsbridge/ws/message_inflater.h"

using wsbridge::fuzz::chunk_ends;
using wsbridge::fuzz::FuzzInput;
using wsbridge::ws::IdleMemory;
using wsbridge::ws::InflateStatus;
using wsbridge::ws::MessageDeflater;
using wsbridge::ws::MessageInflater;

namespace {

// The input's text as messages: split at each 0xff byte.
std::vector<std::string> split_messages(const std::string& text) {
  std::vector<std::string> messages(1);
  for (const char c : text) {
    if (static_cast<unsigned char>(c) == 0xff) {
      messages.emplace_back();
    } else {
      messages.back().push_back(c);
    }
  }
  return messages;
}

// Inflates each message in pieces; checks the limit and stickiness.
void inflate_untrusted(const std::vector<std::string>& payloads, int bits, bool no_takeover,
                       std::uint64_t limit, std::uint8_t mode, std::uint8_t seed) {
  MessageInflater inflater(bits, no_takeover, limit,
                           (mode & 0x80) != 0 ? IdleMemory::Keep : IdleMemory::Release);
  for (const std::string& payload : payloads) {
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(payload.data());
    std::string out;
    InflateStatus status = InflateStatus::Ok;
    std::size_t begin = 0;
    for (const std::size_t end : chunk_ends(payload.size(), mode, seed)) {
      status = inflater.feed(bytes + begin, end - begin, out);
      begin = end;
      if (status != InflateStatus::Ok) break;
    }
    if (status == InflateStatus::Ok) status = inflater.finish(out);
    if (limit != 0) FUZZ_CHECK(out.size() <= limit + 1);
    if (status == InflateStatus::MessageTooBig) FUZZ_CHECK(limit != 0 && out.size() == limit + 1);
    if (status != InflateStatus::Ok) {
      FUZZ_CHECK(inflater.feed(bytes, payload.size(), out) == status);
      FUZZ_CHECK(inflater.finish(out) == status);
      return;
    }
  }
}

// Compresses each message and inflates it back.
void round_trip(const std::vector<std::string>& messages, int bits, bool no_takeover, std::uint8_t mode,
                std::uint8_t seed) {
  const IdleMemory idle = (mode & 0x80) != 0 ? IdleMemory::Keep : IdleMemory::Release;
  MessageDeflater deflater(bits, no_takeover, idle, 1 + seed % 9, 1 + mode % 9);
  MessageInflater inflater(bits, no_takeover, 0, idle);
  for (const std::string& message : messages) {
    std::string payload;
    FUZZ_CHECK(deflater.compress(message, payload));
    const auto* bytes = reinterpret_cast<const std::uint8_t*>(payload.data());
    std::string out;
    std::size_t begin = 0;
    for (const std::size_t end : chunk_ends(payload.size(), mode, seed)) {
      FUZZ_CHECK(inflater.feed(bytes + begin, end - begin, out) == InflateStatus::Ok);
      begin = end;
    }
    FUZZ_CHECK(inflater.finish(out) == InflateStatus::Ok);
    FUZZ_CHECK(out == message);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const std::uint8_t shape = in.take_byte();
  const std::uint8_t mode = in.take_byte();
  const std::uint8_t seed = in.take_byte();
  const std::uint8_t limit_byte = in.take_byte();
  const std::vector<std::string> messages = split_messages(in.rest());

  const int bits = 8 + (shape & 7);
  const bool no_takeover = (shape & 8) != 0;
  // 0 = unlimited; otherwise small limits, so the limit is often reached.
  const std::uint64_t limit = limit_byte == 0 ? 0 : std::uint64_t{limit_byte} * 64;
  if ((shape & 16) != 0) {
    round_trip(messages, bits, no_takeover, mode, seed);
  } else {
    inflate_untrusted(messages, bits, no_takeover, limit, mode, seed);
  }
  return 0;
}
