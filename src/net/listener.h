// Listening TCP sockets for --address/--port, resolved and bound at start-up.
#pragma once
#include <uv.h>

#include <string>

namespace wsbridge::net {

// The kernel caps this at net.core.somaxconn; ask for plenty so connection
// bursts queue rather than fail.
constexpr int kListenBacklog = 4096;

struct ListenAddress {
  std::string host;     // as given, without brackets; "" = all interfaces
  bool ipv6 = false;
  std::string display;  // "127.0.0.1:8080" or "[::1]:8080", for logs and URLs
};

// Parses one --address value ("127.0.0.1", "[::1]", "::1", "localhost") for
// a port. Returns false with `error` set when it cannot be used.
bool parse_listen_address(const std::string& value, int port, ListenAddress& out, std::string& error);

// Binds and listens. `on_connection` is libuv's connection callback. Returns 0
// or a libuv error; `error` gets a message like websocketd's
// ("listen tcp 127.0.0.1:80: bind: permission denied").
int start_listener(uv_loop_t* loop, uv_tcp_t* handle, const ListenAddress& address, int port,
                   uv_connection_cb on_connection, std::string& error);

// Listens on a Unix domain socket at `path` with file mode `mode` (e.g.
// 0660); `fd` gets the listening descriptor (close-on-exec, non-blocking).
// A stale socket file (nothing accepts on it) is replaced; a live one is an
// error, so two servers never steal each other's socket.
int start_unix_listener(const std::string& path, unsigned mode, int& fd, std::string& error);

}  // namespace wsbridge::net
