// The loop's shared compressors: one per window size, only for agreements
// without server context takeover, and no message leaking into the next.
#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/ws/message_inflater.h"
#include "wsbridge/ws/shared_deflaters.h"

using wsbridge::ws::DeflateParameters;
using wsbridge::ws::IdleMemory;
using wsbridge::ws::InflateStatus;
using wsbridge::ws::MessageDeflater;
using wsbridge::ws::MessageInflater;
using wsbridge::ws::SharedDeflaters;

namespace {
DeflateParameters agreement(bool server_no_context_takeover, std::uint8_t bits) {
  DeflateParameters agreed;
  agreed.server_no_context_takeover = server_no_context_takeover;
  agreed.server_max_window_bits = bits;
  return agreed;
}
}  // namespace

TEST_CASE("one compressor per window size, none with context takeover", "[ws_shared_deflaters_test]") {
  SharedDeflaters shared;
  CHECK(shared.for_agreement(agreement(false, 15)) == nullptr);
  MessageDeflater* fifteen = shared.for_agreement(agreement(true, 15));
  REQUIRE(fifteen != nullptr);
  CHECK(shared.for_agreement(agreement(true, 15)) == fifteen);
  MessageDeflater* ten = shared.for_agreement(agreement(true, 10));
  CHECK(ten != fifteen);
  // zlib's smallest window serves an 8-bit agreement too.
  CHECK(shared.for_agreement(agreement(true, 8)) == shared.for_agreement(agreement(true, 9)));
  // Nothing is allocated until a message is compressed.
  CHECK(shared.allocated_bytes() == 0);
}

TEST_CASE("messages from different connections do not refer to each other", "[ws_shared_deflaters_test]") {
  SharedDeflaters shared;
  MessageDeflater* deflater = shared.for_agreement(agreement(true, 15));
  REQUIRE(deflater != nullptr);
  const std::string text = "{\"event\":\"tick\",\"value\":12345}";
  std::string first;
  std::string second;
  REQUIRE(deflater->compress(text, first));
  REQUIRE(deflater->compress(text, second));
  CHECK(first == second);
  // Each inflates alone, as a fresh connection's inflater would.
  for (const std::string* payload : {&first, &second}) {
    MessageInflater inflater(15, true, 0, IdleMemory::Release);
    std::string out;
    REQUIRE(inflater.feed(reinterpret_cast<const std::uint8_t*>(payload->data()), payload->size(), out) ==
            InflateStatus::Ok);
    REQUIRE(inflater.finish(out) == InflateStatus::Ok);
    CHECK(out == text);
  }
  // The state stays for the next message rather than being made again.
  CHECK(shared.allocated_bytes() == deflater->allocated_bytes());
  CHECK(shared.allocated_bytes() > 0);
}
