// The key per-client limits count under: one client address, as the
// connection established it (socket peer, PROXY header or --trusted-proxy).
// An IPv6 client is counted per /64, because one host commonly holds a
// whole /64 and could otherwise take a fresh address for each connection;
// an IPv4-mapped IPv6 address counts as the IPv4 address it carries.
#pragma once
#include <string>
#include <string_view>

namespace wsbridge::bridge {

// "192.0.2.7" → "192.0.2.7"; "2001:db8:1:2:3:4:5:6" → "2001:db8:1:2::/64";
// "::ffff:192.0.2.7" → "192.0.2.7". Anything that is not an IP address
// (a Unix-socket peer without a PROXY header) gives "": such clients are
// not limited, since all of them would share one key.
std::string client_key(std::string_view address);

}  // namespace wsbridge::bridge
