// Every way the server refuses a request before (or instead of) serving it,
// as one enum mapped in one table (refusal.cpp) to the HTTP status, the body
// the client reads, a short description for log lines and the label the
// metrics count it under. Call sites name the refusal; they never spell a
// status or a body themselves, so "429 Too Many Requests" is written once.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::http {

enum class Refusal : std::uint8_t {
  // The request itself.
  RequestTimeout,          // 408: the head did not arrive in time (slowloris)
  MalformedRequest,        // 400: not HTTP, bad header name, ...
  TargetTooLong,           // 414
  HeadTooLarge,            // 431: too many or too large header fields
  MethodNotImplemented,    // 501: a well-formed method we do not know
  HttpVersionUnsupported,  // 505
  MalformedPath,           // 400: a URL path that cannot be decoded
  // Routing.
  NotFound,                // 404 with websocketd's body "404 page not found"
  ScriptNotFound,          // 404: --dir found no script along the path
  Forbidden,               // 403: dotfile, listing, --cgidir source, ...
  MethodNotAllowed,        // 405: static files take GET and HEAD only
  // The WebSocket handshake (RFC 6455 §4.2.1) and the origin check.
  BadHandshake,            // 400: missing Host, key, Upgrade, HTTP/1.0
  HandshakeNotGet,         // 405: an upgrade must be a GET
  UnsupportedWebSocketVersion,  // 426 with Sec-WebSocket-Version: 13
  OriginNotAllowed,        // 403: --origin / --sameorigin
  SubprotocolNotSupported, // 400: protocols offered, none of --subprotocol's
  // CGI request bodies.
  ChunkedBody,             // 411: bodies are streamed, so their length must be known
  BadContentLength,        // 400
  // Limits and resources.
  ForkLimit,               // 429: --maxforks reached
  RoomFull,                // 429: --room-max-clients reached in this room
  ClientConnectionLimit,   // 429: --maxconn-per-client reached for this client
  ClientRateLimit,         // 429 with Retry-After: --connect-rate exceeded for this client
  AuthRefused,             // 403, or the status the --auth program's header block gave
  AuthTimeout,             // 503: the --auth program did not answer in --auth-timeout
  ShortOfResources,        // 503: descriptors, memory or processes, for the moment
  RoomBrokerUnavailable,   // 503: --room-broker's Redis cannot be reached now
  LaunchFailed,            // 500: the program could not be started
};

inline constexpr std::size_t kRefusalCount = static_cast<std::size_t>(Refusal::LaunchFailed) + 1;

struct RefusalInfo {
  Refusal refusal;
  int status;
  std::string_view label;        // metrics label: lower_snake_case, stable
  std::string_view description;  // for log lines and as the body's default detail
  // A body the client reads instead of "<status> <reason>: <detail>" (the
  // exact text websocketd sends where clients may compare it), or empty.
  std::string_view fixed_body;
  // Sent with the refusal when its name is not empty.
  std::string_view header_name;
  std::string_view header_value;
};

// The table row of `refusal`. Never fails: every value has one.
const RefusalInfo& refusal_info(Refusal refusal) noexcept;

// What the client reads: "<status> <reason phrase>: <detail>\n", the detail
// being `detail` or, when that is empty, the table's description; "429 Too
// Many Requests\n" style for refusals whose description is empty; or the
// table's fixed body.
std::string refusal_body(Refusal refusal, std::string_view detail = {});

// Appends the refusal's own header (426's Sec-WebSocket-Version, 405's
// Allow) to `headers`, when it has one.
void add_refusal_headers(Refusal refusal, std::vector<Header>& headers);

// The refusal for a request the parser rejected with `status` (400, 414,
// 431, 501 or 505); any other status is a MalformedRequest.
Refusal refusal_for_request_error(int status) noexcept;

// The refusal for a program that could not be started with errno `error`:
// a shortage that may pass (descriptors, memory, processes) is 503, try
// again later; anything else is the program's fault, 500.
Refusal refusal_for_launch_error(int error) noexcept;

}  // namespace wsbridge::http
