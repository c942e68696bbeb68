// inet_pton/inet_ntop do the parsing and printing, so every textual form of
// an address (compressed zeros, embedded IPv4, upper case) gives one key.
#include "wsbridge/bridge/client_key.h"

#include <arpa/inet.h>

#include <cstring>

namespace wsbridge::bridge {

std::string client_key(std::string_view address) {
  // inet_pton needs a terminated string; addresses are short.
  char text[INET6_ADDRSTRLEN + 1] = {};
  if (address.empty() || address.size() >= sizeof(text)) return {};
  std::memcpy(text, address.data(), address.size());

  in_addr v4{};
  if (inet_pton(AF_INET, text, &v4) == 1) {
    char out[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &v4, out, sizeof(out));
    return out;
  }
  in6_addr v6{};
  if (inet_pton(AF_INET6, text, &v6) != 1) return {};
  static constexpr unsigned char kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF};
  if (std::memcmp(v6.s6_addr, kMappedPrefix, sizeof(kMappedPrefix)) == 0) {
    std::memcpy(&v4, v6.s6_addr + 12, 4);
    char out[INET_ADDRSTRLEN] = {};
    inet_ntop(AF_INET, &v4, out, sizeof(out));
    return out;
  }
  std::memset(v6.s6_addr + 8, 0, 8);  // keep the /64 prefix
  char out[INET6_ADDRSTRLEN] = {};
  inet_ntop(AF_INET6, &v6, out, sizeof(out));
  return std::string(out) + "/64";
}

}  // namespace wsbridge::bridge
