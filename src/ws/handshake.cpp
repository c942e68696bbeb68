// Opening handshake (RFC 6455 §4.2.1): the checks run in the order the RFC
// lists them, so the first problem reported is the one a reader of the RFC
// would expect, and each maps to one HTTP status.
#include "wsbridge/ws/handshake.h"

#include <openssl/evp.h>

#include <cstdint>

namespace wsbridge::ws {
namespace {

// §1.3: the GUID appended to the client's key before hashing.
constexpr std::string_view kAcceptGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
// §4.2.1 item 5: a base64-encoded 16-byte value is always 24 characters.
constexpr std::size_t kKeyEncodedLength = 24;

int base64_value(char c) noexcept {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// True when key is RFC 4648 base64 (standard alphabet, "=" padding) of
// exactly 16 bytes: 22 alphabet characters followed by "==". Unused low bits
// in the last character are tolerated (RFC 4648 §3.5 lets decoders choose);
// they do not change the 16 decoded bytes.
bool is_valid_key(std::string_view key) noexcept {
  if (key.size() != kKeyEncodedLength) return false;
  for (std::size_t i = 0; i < 22; ++i) {
    if (base64_value(key[i]) < 0) return false;
  }
  return key[22] == '=' && key[23] == '=';
}

}  // namespace

bool is_websocket_upgrade(const http::Request& request) noexcept {
  return request.header_has_token("Upgrade", "websocket") &&
         request.header_has_token("Connection", "upgrade");
}

HandshakeError check_handshake(const http::Request& request) noexcept {
  // 1. "An HTTP/1.1 or higher GET request".
  if (request.method != "GET") return HandshakeError::MethodNotGet;
  if (request.http_major < 1 || (request.http_major == 1 && request.http_minor < 1)) {
    return HandshakeError::HttpVersionTooOld;
  }
  // 2. A Host header. Only its presence is required: RFC 9112 §3.2 allows
  // an empty value, and websocketd (Go net/http) accepts one too.
  if (request.find_header("Host") == nullptr) return HandshakeError::MissingHost;
  // 3-4. Upgrade: websocket and Connection: upgrade, as tokens in lists.
  if (!is_websocket_upgrade(request)) return HandshakeError::NotAnUpgrade;
  // 5. Sec-WebSocket-Key.
  const std::string* key = request.find_header("Sec-WebSocket-Key");
  if (key == nullptr || !is_valid_key(*key)) return HandshakeError::BadKey;
  // 6. Sec-WebSocket-Version: exactly 13; missing counts as unsupported, so
  // the client learns from the 426 which version we speak (§4.4).
  const std::string* version = request.find_header("Sec-WebSocket-Version");
  if (version == nullptr || *version != "13") return HandshakeError::UnsupportedVersion;
  return HandshakeError::None;
}

http::Refusal refusal_for(HandshakeError error) noexcept {
  switch (error) {
    case HandshakeError::MethodNotGet: return http::Refusal::HandshakeNotGet;
    case HandshakeError::UnsupportedVersion: return http::Refusal::UnsupportedWebSocketVersion;
    case HandshakeError::None:  // not a refusal; callers check first
    case HandshakeError::HttpVersionTooOld:
    case HandshakeError::MissingHost:
    case HandshakeError::NotAnUpgrade:
    case HandshakeError::BadKey:
      break;
  }
  return http::Refusal::BadHandshake;
}

int http_status_for(HandshakeError error) noexcept {
  if (error == HandshakeError::None) return 101;  // the upgrade goes ahead
  return http::refusal_info(refusal_for(error)).status;
}

const char* describe(HandshakeError error) noexcept {
  switch (error) {
    case HandshakeError::None: return "no error";
    case HandshakeError::MethodNotGet: return "method is not GET";
    case HandshakeError::HttpVersionTooOld: return "HTTP version older than 1.1";
    case HandshakeError::MissingHost: return "missing Host header";
    case HandshakeError::NotAnUpgrade: return "not a websocket upgrade";
    case HandshakeError::UnsupportedVersion: return "unsupported Sec-WebSocket-Version";
    case HandshakeError::BadKey: return "missing or malformed Sec-WebSocket-Key";
  }
  return "unknown handshake error";
}

std::string compute_accept_key(std::string_view client_key) {
  std::string input;
  input.reserve(client_key.size() + kAcceptGuid.size());
  input.append(client_key);
  input.append(kAcceptGuid);

  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int digest_size = 0;
  // EVP_Digest rather than SHA1(): the EVP interface is the one OpenSSL 3
  // keeps undeprecated and routes through its providers.
  if (EVP_Digest(input.data(), input.size(), digest, &digest_size, EVP_sha1(), nullptr) != 1) {
    return std::string();  // only on an OpenSSL failure (e.g. SHA-1 disabled); no valid key exists
  }
  // 20 bytes → 28 base64 characters plus the NUL EVP_EncodeBlock writes.
  unsigned char encoded[4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1];
  const int encoded_size = EVP_EncodeBlock(encoded, digest, static_cast<int>(digest_size));
  return std::string(reinterpret_cast<const char*>(encoded), static_cast<std::size_t>(encoded_size));
}

}  // namespace wsbridge::ws
