// Fuzzes the Sec-WebSocket-Extensions parser and the permessage-deflate
// negotiation on top of it. Besides not crashing:
//  - the parser makes at most one offer per byte of header;
//  - an accepted offer's response is itself a well-formed permessage-deflate
//    offer with window bits in 8..15, and negotiating that response again
//    under the same settings agrees on the same parameters (the server never
//    answers something it would not accept itself).
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_input.h"
#include "wsbridge/ws/deflate_negotiation.h"
#include "wsbridge/ws/extension_offer.h"

using wsbridge::fuzz::FuzzInput;
using wsbridge::ws::DeflateNegotiation;
using wsbridge::ws::DeflateParameters;
using wsbridge::ws::DeflateSettings;

namespace {

bool same(const DeflateParameters& a, const DeflateParameters& b) {
  return a.server_no_context_takeover == b.server_no_context_takeover &&
         a.client_no_context_takeover == b.client_no_context_takeover &&
         a.server_max_window_bits == b.server_max_window_bits &&
         a.client_max_window_bits == b.client_max_window_bits;
}

bool in_range(std::uint8_t bits) { return bits >= 8 && bits <= 15; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const std::uint8_t flags = in.take_byte();
  const std::uint8_t windows = in.take_byte();
  const std::string header = in.rest();

  const auto offers = wsbridge::ws::parse_extension_offers(header);
  FUZZ_CHECK(offers.size() <= header.size());

  DeflateSettings settings;
  settings.enabled = (flags & 1) == 0;
  settings.server_no_context_takeover = (flags & 2) != 0;
  settings.client_no_context_takeover = (flags & 4) != 0;
  // Any preference, even out of range: the negotiation must clamp it.
  settings.server_max_window_bits = static_cast<std::uint8_t>(windows & 0x0f);
  settings.client_max_window_bits = static_cast<std::uint8_t>(windows >> 4);

  const DeflateNegotiation result = wsbridge::ws::negotiate_deflate(header, settings);
  if (!result.accepted) {
    FUZZ_CHECK(result.response.empty());
    return 0;
  }
  FUZZ_CHECK(settings.enabled);
  FUZZ_CHECK(in_range(result.parameters.server_max_window_bits));
  FUZZ_CHECK(in_range(result.parameters.client_max_window_bits));
  const auto answer = wsbridge::ws::parse_extension_offers(result.response);
  FUZZ_CHECK(answer.size() == 1 && answer[0].well_formed && answer[0].name == "permessage-deflate");
  const DeflateNegotiation again = wsbridge::ws::negotiate_deflate(result.response, settings);
  FUZZ_CHECK(again.accepted && same(again.parameters, result.parameters));
  FUZZ_CHECK(again.response == result.response);
  return 0;
}
