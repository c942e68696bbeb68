#include "wsbridge/http/proxy_protocol.h"

#include <arpa/inet.h>

#include <cstring>
#include <string_view>
#include <vector>

namespace wsbridge::http {
namespace {

constexpr char kV2Signature[12] = {'\x0D', '\x0A', '\x0D', '\x0A', '\x00', '\x0D',
                                   '\x0A', '\x51', '\x55', '\x49', '\x54', '\x0A'};
constexpr std::size_t kV1MaxLength = 107;   // the specification's bound, CRLF included
constexpr std::size_t kV2MaxPayload = 2048;  // addresses + TLVs; more is not a real proxy

std::vector<std::string_view> split_spaces(std::string_view line) {
  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (start <= line.size()) {
    std::size_t space = line.find(' ', start);
    parts.push_back(line.substr(start, space == std::string_view::npos ? std::string_view::npos : space - start));
    if (space == std::string_view::npos) break;
    start = space + 1;
  }
  return parts;
}

bool valid_port(std::string_view text) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
  }
  return value <= 65535;
}

bool valid_address(std::string_view text, int family) {
  std::string copy(text);
  unsigned char storage[16];
  return inet_pton(family, copy.c_str(), storage) == 1;
}

}  // namespace

ProxyHeaderParser::Status ProxyHeaderParser::fail(std::string why) {
  error_ = std::move(why);
  return Status::Error;
}

ProxyHeaderParser::Status ProxyHeaderParser::feed(const char* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  if (size == 0 && buffer_.empty()) return Status::NeedMore;
  const std::size_t before = buffer_.size();
  // Take at most what one header can need; the rest stays with the caller.
  std::size_t room = (16 + kV2MaxPayload) - before;
  buffer_.append(data, size < room ? size : room);
  std::size_t header_size = 0;
  Status status;
  if (buffer_[0] == 'P') {
    status = parse_v1(header_size);
  } else if (buffer_[0] == '\x0D') {
    status = parse_v2(header_size);
  } else {
    status = fail("connection does not start with a PROXY protocol header");
  }
  if (status == Status::Done) {
    consumed = header_size - before;
    buffer_.clear();
    buffer_.shrink_to_fit();
  } else if (status == Status::NeedMore) {
    consumed = size;
  }
  return status;
}

ProxyHeaderParser::Status ProxyHeaderParser::parse_v1(std::size_t& header_size) {
  std::string_view seen(buffer_);
  std::string_view prefix = "PROXY ";
  if (seen.substr(0, prefix.size()) != prefix.substr(0, seen.size())) return fail("bad PROXY v1 header");
  std::size_t crlf = seen.find("\r\n");
  if (crlf == std::string_view::npos) {
    return seen.size() >= kV1MaxLength ? fail("PROXY v1 header longer than 107 bytes") : Status::NeedMore;
  }
  if (crlf + 2 > kV1MaxLength) return fail("PROXY v1 header longer than 107 bytes");
  header_size = crlf + 2;
  std::vector<std::string_view> parts = split_spaces(seen.substr(0, crlf));
  if (parts.size() >= 2 && parts[1] == "UNKNOWN") return Status::Done;  // no usable address
  if (parts.size() != 6) return fail("PROXY v1 header has the wrong number of fields");
  int family = parts[1] == "TCP4" ? AF_INET : parts[1] == "TCP6" ? AF_INET6 : -1;
  if (family < 0) return fail("PROXY v1 protocol must be TCP4, TCP6 or UNKNOWN");
  if (!valid_address(parts[2], family) || !valid_address(parts[3], family) || !valid_port(parts[4]) ||
      !valid_port(parts[5])) {
    return fail("PROXY v1 header has an invalid address or port");
  }
  has_source_ = true;
  source_address_ = std::string(parts[2]);
  source_port_ = std::string(parts[4]);
  return Status::Done;
}

ProxyHeaderParser::Status ProxyHeaderParser::parse_v2(std::size_t& header_size) {
  std::size_t compare = buffer_.size() < sizeof kV2Signature ? buffer_.size() : sizeof kV2Signature;
  if (std::memcmp(buffer_.data(), kV2Signature, compare) != 0) return fail("bad PROXY v2 signature");
  if (buffer_.size() < 16) return Status::NeedMore;
  auto byte = [&](std::size_t i) { return static_cast<unsigned char>(buffer_[i]); };
  unsigned version = byte(12) >> 4, command = byte(12) & 0x0F;
  if (version != 2) return fail("PROXY v2 header with an unknown version");
  if (command > 1) return fail("PROXY v2 header with an unknown command");
  std::size_t length = (std::size_t{byte(14)} << 8) | byte(15);
  if (length > kV2MaxPayload) return fail("PROXY v2 header too long");
  if (buffer_.size() < 16 + length) return Status::NeedMore;
  header_size = 16 + length;
  if (command == 0) return Status::Done;  // LOCAL: a health check from the proxy itself
  unsigned family = byte(13) >> 4;
  char text[INET6_ADDRSTRLEN] = {};
  const unsigned char* payload = reinterpret_cast<const unsigned char*>(buffer_.data()) + 16;
  if (family == 1) {  // AF_INET: src(4) dst(4) sport(2) dport(2)
    if (length < 12) return fail("PROXY v2 IPv4 block too short");
    inet_ntop(AF_INET, payload, text, sizeof text);
    source_port_ = std::to_string((payload[8] << 8) | payload[9]);
  } else if (family == 2) {  // AF_INET6: src(16) dst(16) sport(2) dport(2)
    if (length < 36) return fail("PROXY v2 IPv6 block too short");
    inet_ntop(AF_INET6, payload, text, sizeof text);
    source_port_ = std::to_string((payload[32] << 8) | payload[33]);
  } else {
    return Status::Done;  // AF_UNSPEC or AF_UNIX: nothing we can report
  }
  has_source_ = true;
  source_address_ = text;
  return Status::Done;
}

}  // namespace wsbridge::http
