#include "wsbridge/http/refusal.h"

#include <array>
#include <cerrno>

#include "wsbridge/http/response.h"

namespace wsbridge::http {
namespace {

using R = Refusal;

// One row per Refusal, in the enum's order (checked by the unit test and by
// refusal_info's lookup, which indexes the table by the enum's value).
constexpr std::array<RefusalInfo, kRefusalCount> kRefusals{{
    {R::RequestTimeout, 408, "request_timeout", "the request head took too long", {}, {}, {}},
    {R::MalformedRequest, 400, "malformed_request", "malformed request", {}, {}, {}},
    {R::TargetTooLong, 414, "target_too_long", "request target too long", {}, {}, {}},
    {R::HeadTooLarge, 431, "head_too_large", "request header fields too large", {}, {}, {}},
    {R::MethodNotImplemented, 501, "method_not_implemented", "method not implemented", {}, {}, {}},
    {R::HttpVersionUnsupported, 505, "http_version_unsupported", "unsupported protocol version", {}, {}, {}},
    {R::MalformedPath, 400, "malformed_path", "malformed URL path", {}, {}, {}},
    {R::NotFound, 404, "not_found", "not found", "404 page not found\n", {}, {}},
    {R::ScriptNotFound, 404, "script_not_found", "", {}, {}, {}},
    {R::Forbidden, 403, "forbidden", "forbidden", {}, {}, {}},
    {R::MethodNotAllowed, 405, "method_not_allowed", "only GET and HEAD", {}, "Allow", "GET, HEAD"},
    {R::BadHandshake, 400, "bad_handshake", "not a valid websocket upgrade", {}, {}, {}},
    {R::HandshakeNotGet, 405, "handshake_not_get", "method is not GET", {}, {}, {}},
    {R::UnsupportedWebSocketVersion, 426, "unsupported_websocket_version", "unsupported Sec-WebSocket-Version",
     {}, "Sec-WebSocket-Version", "13"},
    {R::OriginNotAllowed, 403, "origin_not_allowed", "origin not allowed", {}, {}, {}},
    {R::SubprotocolNotSupported, 400, "subprotocol_not_supported", "no offered subprotocol is supported", {}, {},
     {}},
    {R::ChunkedBody, 411, "chunked_body", "send CGI request bodies with Content-Length, not chunked", {}, {}, {}},
    {R::BadContentLength, 400, "bad_content_length", "invalid Content-Length", {}, {}, {}},
    {R::ForkLimit, 429, "fork_limit", "", {}, {}, {}},
    {R::RoomFull, 429, "room_full", "this room has --room-max-clients clients already", {}, {}, {}},
    {R::ClientConnectionLimit, 429, "client_connection_limit", "too many connections from this client", {}, {},
     {}},
    // Retry-After varies, so the caller adds it.
    {R::ClientRateLimit, 429, "client_rate_limit", "connecting too fast", {}, {}, {}},
    {R::AuthRefused, 403, "auth_refused", "refused by the auth program", {}, {}, {}},
    {R::AuthTimeout, 503, "auth_timeout", "the auth program did not answer in time", {}, {}, {}},
    {R::ShortOfResources, 503, "short_of_resources", "out of memory", {}, {}, {}},
    {R::RoomBrokerUnavailable, 503, "room_broker_unavailable", "room broker unavailable", {}, {}, {}},
    {R::LaunchFailed, 500, "launch_failed", "could not launch the program", {}, {}, {}},
}};

}  // namespace

const RefusalInfo& refusal_info(Refusal refusal) noexcept {
  return kRefusals[static_cast<std::size_t>(refusal)];
}

std::string refusal_body(Refusal refusal, std::string_view detail) {
  const RefusalInfo& info = refusal_info(refusal);
  if (!info.fixed_body.empty()) return std::string(info.fixed_body);
  std::string body = std::to_string(info.status);
  body += ' ';
  body += reason_phrase(info.status);
  std::string_view said = detail.empty() ? info.description : detail;
  if (!said.empty()) {
    body += ": ";
    body += said;
  }
  body += '\n';
  return body;
}

void add_refusal_headers(Refusal refusal, std::vector<Header>& headers) {
  const RefusalInfo& info = refusal_info(refusal);
  if (!info.header_name.empty()) headers.push_back({std::string(info.header_name), std::string(info.header_value)});
}

Refusal refusal_for_request_error(int status) noexcept {
  switch (status) {
    case 408: return Refusal::RequestTimeout;
    case 414: return Refusal::TargetTooLong;
    case 431: return Refusal::HeadTooLarge;
    case 501: return Refusal::MethodNotImplemented;
    case 505: return Refusal::HttpVersionUnsupported;
    default: return Refusal::MalformedRequest;
  }
}

Refusal refusal_for_launch_error(int error) noexcept {
  switch (error) {
    case EMFILE:
    case ENFILE:
    case ENOMEM:
    case EAGAIN:
      return Refusal::ShortOfResources;
    default:
      return Refusal::LaunchFailed;
  }
}

}  // namespace wsbridge::http
