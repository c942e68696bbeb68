// Server side of the permessage-deflate negotiation (RFC 7692 §5, §7.1):
// picks the first offer the server can accept and writes the response.
#pragma once
#include <string>
#include <string_view>

#include "wsbridge/ws/deflate_parameters.h"
#include "wsbridge/ws/deflate_settings.h"

namespace wsbridge::ws {

struct DeflateNegotiation {
  // True when a permessage-deflate offer was accepted: the 101 response
  // carries "Sec-WebSocket-Extensions: <response>" and the connection
  // compresses with `parameters`. False: no such header, a plain connection.
  bool accepted = false;
  DeflateParameters parameters;
  std::string response;
};

// `extensions_header` is every Sec-WebSocket-Extensions line of the request
// joined with ", " (http::Request::joined_header), empty when there is none.
// An offer with an unknown, repeated or badly valued parameter is declined
// (§7.1: the server declines that offer, it does not fail the handshake)
// and the next permessage-deflate offer is tried.
DeflateNegotiation negotiate_deflate(std::string_view extensions_header, const DeflateSettings& settings);

}  // namespace wsbridge::ws
