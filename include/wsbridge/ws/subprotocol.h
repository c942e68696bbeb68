// Subprotocol negotiation (RFC 6455 §1.9, §4.2.2 /subprotocol/): the client
// offers protocols in Sec-WebSocket-Protocol (comma-separated, possibly over
// several header lines); the server answers with at most one of them. With
// --subprotocol the server's list is in its own order of preference, so the
// first protocol of that list the client offered wins, whatever the client's
// order. Names are compared exactly: a client checks that the answer is one
// of the strings it sent.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::ws {

enum class SubprotocolOutcome {
  NoneOffered,   // the client offered nothing: no protocol, go ahead
  Chosen,        // `chosen` is answered and given to the program
  NotSupported,  // offers made, none supported: refuse before any program starts
  NotNegotiated, // the server has no list: answer no protocol (websocketd's way)
};

struct SubprotocolChoice {
  SubprotocolOutcome outcome = SubprotocolOutcome::NoneOffered;
  std::string chosen;
};

// The protocols the client offered, in its order, from every
// Sec-WebSocket-Protocol line; empty entries and surrounding spaces dropped.
std::vector<std::string_view> offered_subprotocols(const http::Request& request);

// Picks the answer. `supported` is the server's list in preference order
// (empty: the server does not negotiate protocols).
SubprotocolChoice choose_subprotocol(const std::vector<std::string>& supported, const http::Request& request);

// True when `name` is an RFC 6455 token (RFC 2616 §2.2: visible ASCII
// without separators), as a --subprotocol value must be.
bool is_subprotocol_token(std::string_view name) noexcept;

}  // namespace wsbridge::ws
