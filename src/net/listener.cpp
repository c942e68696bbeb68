#include "net/listener.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsbridge::net {
bool parse_listen_address(const std::string& value, int port, ListenAddress& out, std::string& error) {
  std::string host = value;
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  in6_addr v6{};
  in_addr v4{};
  if (inet_pton(AF_INET, host.c_str(), &v4) == 1) {
    out = {host, false, host + ":" + std::to_string(port)};
    return true;
  }
  if (inet_pton(AF_INET6, host.c_str(), &v6) == 1) {
    out = {host, true, "[" + host + "]:" + std::to_string(port)};
    return true;
  }
  // A host name: resolve it once, now (blocking is fine before serving).
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* result = nullptr;
  int rc = getaddrinfo(host.c_str(), nullptr, &hints, &result);
  if (rc != 0 || result == nullptr) {
    error = "listen tcp " + value + ":" + std::to_string(port) + ": lookup " + host + ": " + gai_strerror(rc);
    return false;
  }
  char text[INET6_ADDRSTRLEN] = {};
  bool is_v6 = result->ai_family == AF_INET6;
  if (is_v6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(result->ai_addr)->sin6_addr, text, sizeof text);
  } else {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(result->ai_addr)->sin_addr, text, sizeof text);
  }
  freeaddrinfo(result);
  out = {text, is_v6, value + ":" + std::to_string(port)};
  return true;
}

int start_listener(uv_loop_t* loop, uv_tcp_t* handle, const ListenAddress& address, int port,
                   uv_connection_cb on_connection, std::string& error) {
  sockaddr_storage storage{};
  int err;
  unsigned flags = 0;
  if (address.host.empty()) {
    // All interfaces, IPv4 and IPv6 on one dual-stack socket (websocketd's ":port").
    err = uv_ip6_addr("::", port, reinterpret_cast<sockaddr_in6*>(&storage));
  } else if (address.ipv6) {
    err = uv_ip6_addr(address.host.c_str(), port, reinterpret_cast<sockaddr_in6*>(&storage));
    flags = UV_TCP_IPV6ONLY;
  } else {
    err = uv_ip4_addr(address.host.c_str(), port, reinterpret_cast<sockaddr_in*>(&storage));
  }
  if (err == 0) err = uv_tcp_init(loop, handle);
  if (err == 0) err = uv_tcp_bind(handle, reinterpret_cast<sockaddr*>(&storage), flags);
  if (err == 0) err = uv_listen(reinterpret_cast<uv_stream_t*>(handle), kListenBacklog, on_connection);
  if (err == UV_EAFNOSUPPORT && address.host.empty()) {
    // No IPv6 on this host: fall back to IPv4's any-address.
    uv_close(reinterpret_cast<uv_handle_t*>(handle), nullptr);
    uv_run(loop, UV_RUN_NOWAIT);
    ListenAddress v4{"0.0.0.0", false, address.display};
    return start_listener(loop, handle, v4, port, on_connection, error);
  }
  if (err != 0) {
    std::string shown = address.host.empty() ? ":" + std::to_string(port) : address.display;
    error = "listen tcp " + shown + ": " + uv_strerror(err);
  }
  return err;
}

namespace {

// True when something accepts connections on the Unix socket at `path`.
bool unix_socket_is_live(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, path.c_str(), sizeof address.sun_path - 1);
  bool live = connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  close(fd);
  return live;
}

}  // namespace

int start_unix_listener(const std::string& path, unsigned mode, int& fd, std::string& error) {
  fd = -1;
  struct stat st {};
  if (lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      error = "listen unix " + path + ": file exists and is not a socket";
      return UV_EEXIST;
    }
    if (unix_socket_is_live(path)) {
      error = "listen unix " + path + ": another server is listening there";
      return UV_EADDRINUSE;
    }
    unlink(path.c_str());  // left behind by a server that is gone
  }
  // A plain socket rather than a uv_pipe_t: closing a bound uv_pipe_t
  // unlinks its file, and the main thread closes its descriptor once the
  // workers have their copies, while the file must stay until shutdown.
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  if (path.size() >= sizeof address.sun_path) {
    error = "listen unix " + path + ": " + uv_strerror(UV_ENAMETOOLONG);
    return UV_ENAMETOOLONG;
  }
  std::memcpy(address.sun_path, path.c_str(), path.size() + 1);
  int err = 0;
  fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) err = uv_translate_sys_error(errno);
  // The file is created with its final mode (through the umask, at start-up
  // before any other thread exists), so nobody ever sees it with another
  // mode; chmod then also sets bits the umask cannot grant.
  if (err == 0) {
    const mode_t old_umask = umask(static_cast<mode_t>(~mode & 0777));
    if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) err = uv_translate_sys_error(errno);
    umask(old_umask);
  }
  if (err == 0 && chmod(path.c_str(), mode) != 0) err = uv_translate_sys_error(errno);
  if (err == 0 && listen(fd, kListenBacklog) != 0) err = uv_translate_sys_error(errno);
  if (err != 0) {
    error = "listen unix " + path + ": " + uv_strerror(err);
    if (fd >= 0) close(fd);
    fd = -1;
  }
  return err;
}

}  // namespace wsbridge::net
