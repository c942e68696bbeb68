// --trusted-proxy: when a connection comes from a proxy we trust, the
// client's address is the one the proxy reports in X-Forwarded-For (or
// X-Real-IP), not the proxy's own. Headers from anyone else are ignored, so
// clients cannot forge their address.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::bridge {

struct Cidr {
  int family = 0;               // AF_INET or AF_INET6
  unsigned char address[16] = {};
  unsigned prefix_length = 0;
};

class TrustedProxies {
 public:
  // Adds "10.0.0.0/8", "127.0.0.1", "::1", "fd00::/8" (comma-separated
  // lists too). Returns false with `error` for a malformed entry.
  bool add(std::string_view list, std::string& error);
  bool empty() const noexcept { return ranges_.empty(); }
  // IPv4-mapped IPv6 addresses match IPv4 ranges.
  bool contains(std::string_view ip) const;

 private:
  std::vector<Cidr> ranges_;
};

// The client's address for a connection from `peer`. When `peer` is trusted:
// X-Forwarded-For is read from right to left, skipping trusted proxies, and
// the first address that is not one is the client (the rightmost entries are
// the ones our proxies wrote); without that header, X-Real-IP; otherwise, or
// when the header is malformed, `peer` itself.
std::string client_address(std::string_view peer, const http::Request& request,
                           const TrustedProxies& trusted);

}  // namespace wsbridge::bridge
