#include "wsbridge/bridge/client_address.h"

#include <arpa/inet.h>

#include <cstring>

namespace wsbridge::bridge {
namespace {

std::string_view trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

// Parses an IP literal; IPv4-mapped IPv6 becomes IPv4 so both spellings match.
bool parse_ip(std::string_view text, int& family, unsigned char* out) {
  std::string copy(trim(text));
  if (copy.size() >= 2 && copy.front() == '[' && copy.back() == ']') copy = copy.substr(1, copy.size() - 2);
  if (inet_pton(AF_INET, copy.c_str(), out) == 1) {
    family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, copy.c_str(), out) == 1) {
    static const unsigned char kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(out, kMapped, 12) == 0) {
      std::memmove(out, out + 12, 4);
      family = AF_INET;
    } else {
      family = AF_INET6;
    }
    return true;
  }
  return false;
}

bool in_range(const Cidr& range, int family, const unsigned char* address) {
  if (range.family != family) return false;
  unsigned bits = range.prefix_length;
  std::size_t full = bits / 8;
  if (std::memcmp(range.address, address, full) != 0) return false;
  unsigned rest = bits % 8;
  if (rest == 0) return true;
  auto mask = static_cast<unsigned char>(0xFF << (8 - rest));
  return (range.address[full] & mask) == (address[full] & mask);
}

// The canonical text of an address from a header, or "" when it is not one.
std::string normalized_ip(std::string_view text) {
  int family = 0;
  unsigned char bytes[16];
  if (!parse_ip(text, family, bytes)) return {};
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, out, sizeof out);
  return out;
}

}  // namespace

bool TrustedProxies::add(std::string_view list, std::string& error) {
  while (!list.empty()) {
    std::size_t comma = list.find(',');
    std::string_view entry = trim(list.substr(0, comma));
    list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
    if (entry.empty()) continue;
    Cidr range;
    std::size_t slash = entry.find('/');
    if (!parse_ip(entry.substr(0, slash), range.family, range.address)) {
      error = "not an IP address or range: '" + std::string(entry) + "'";
      return false;
    }
    unsigned max_bits = range.family == AF_INET ? 32 : 128;
    range.prefix_length = max_bits;
    if (slash != std::string_view::npos) {
      std::string_view bits = entry.substr(slash + 1);
      unsigned value = 0;
      if (bits.empty() || bits.size() > 3) value = 999;
      for (char c : bits) value = (c >= '0' && c <= '9') ? value * 10 + static_cast<unsigned>(c - '0') : 999;
      if (value > max_bits) {
        error = "bad prefix length in '" + std::string(entry) + "'";
        return false;
      }
      range.prefix_length = value;
    }
    ranges_.push_back(range);
  }
  return true;
}

bool TrustedProxies::contains(std::string_view ip) const {
  int family = 0;
  unsigned char bytes[16];
  if (!parse_ip(ip, family, bytes)) return false;
  for (const Cidr& range : ranges_) {
    if (in_range(range, family, bytes)) return true;
  }
  return false;
}

std::string client_address(std::string_view peer, const http::Request& request,
                           const TrustedProxies& trusted) {
  if (trusted.empty() || !trusted.contains(peer)) return std::string(peer);
  std::string forwarded = request.joined_header("X-Forwarded-For");
  if (!forwarded.empty()) {
    std::string_view rest(forwarded);
    while (!rest.empty()) {
      std::size_t comma = rest.rfind(',');
      std::string_view entry = comma == std::string_view::npos ? rest : rest.substr(comma + 1);
      rest = comma == std::string_view::npos ? std::string_view() : rest.substr(0, comma);
      std::string ip = normalized_ip(entry);
      if (ip.empty()) return std::string(peer);  // a malformed chain proves nothing
      if (!trusted.contains(ip)) return ip;
    }
    return std::string(peer);  // every hop was one of ours
  }
  if (const std::string* real_ip = request.find_header("X-Real-IP")) {
    std::string ip = normalized_ip(*real_ip);
    if (!ip.empty()) return ip;
  }
  return std::string(peer);
}

}  // namespace wsbridge::bridge
