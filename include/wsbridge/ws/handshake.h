// RFC 6455 §4.2.1 opening-handshake checks, in the RFC's order, and the
// Sec-WebSocket-Accept computation (§4.2.2) with OpenSSL's SHA-1.
#pragma once
#include <string>
#include <string_view>

#include "wsbridge/http/refusal.h"
#include "wsbridge/http/request.h"

namespace wsbridge::ws {

enum class HandshakeError {
  None,
  MethodNotGet,        // → 405
  HttpVersionTooOld,   // not HTTP/1.1 or later → 400
  MissingHost,         // → 400
  NotAnUpgrade,        // no "Upgrade: websocket" / "Connection: upgrade" → 400
  UnsupportedVersion,  // Sec-WebSocket-Version missing or not 13 → 426 + "Sec-WebSocket-Version: 13"
  BadKey,              // Sec-WebSocket-Key missing or not base64 of 16 bytes → 400
};

// True when the request asks for a WebSocket: "Upgrade" contains the token
// "websocket" and "Connection" contains "upgrade" (both case-insensitive, in
// comma lists). Used to route a request before full validation.
bool is_websocket_upgrade(const http::Request& request) noexcept;

// Validates an upgrade request; HandshakeError::None when it can be accepted.
HandshakeError check_handshake(const http::Request& request) noexcept;

// How a failed handshake is refused (refusal table); `error` is not None.
http::Refusal refusal_for(HandshakeError error) noexcept;
// The status answered: 101 for None, else the refusal's.
int http_status_for(HandshakeError error) noexcept;
const char* describe(HandshakeError error) noexcept;

// base64(SHA-1(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")).
std::string compute_accept_key(std::string_view client_key);

}  // namespace wsbridge::ws
