#include "net/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

namespace wsbridge::net::systemd {
namespace {

constexpr int kFirstListenFd = 3;  // SD_LISTEN_FDS_START

bool parse_unsigned(const char* text, std::uint64_t& value) {
  if (text == nullptr || *text == '\0') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(text, &end, 10);
  if (errno != 0 || *end != '\0') return false;
  value = v;
  return true;
}

bool pid_matches(const char* variable) {
  std::uint64_t pid = 0;
  return parse_unsigned(std::getenv(variable), pid) && pid == static_cast<std::uint64_t>(getpid());
}

}  // namespace

bool notify(std::string_view state) noexcept {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr || path[0] == '\0') return false;
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  size_t length = std::strlen(path);
  if (length >= sizeof address.sun_path) return false;
  std::memcpy(address.sun_path, path, length);
  // "@name" is a socket in the abstract namespace: a leading NUL byte.
  if (path[0] == '@') address.sun_path[0] = '\0';
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  auto address_length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + length);
  ssize_t sent = sendto(fd, state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&address),
                        address_length);
  close(fd);
  return sent == static_cast<ssize_t>(state.size());
}

std::uint64_t watchdog_interval_usec() noexcept {
  std::uint64_t usec = 0;
  if (!parse_unsigned(std::getenv("WATCHDOG_USEC"), usec)) return 0;
  if (std::getenv("WATCHDOG_PID") != nullptr && !pid_matches("WATCHDOG_PID")) return 0;
  return usec;
}

std::vector<InheritedSocket> take_listen_fds() {
  std::vector<InheritedSocket> sockets;
  std::uint64_t count = 0;
  if (pid_matches("LISTEN_PID") && parse_unsigned(std::getenv("LISTEN_FDS"), count)) {
    std::string names = std::getenv("LISTEN_FDNAMES") ? std::getenv("LISTEN_FDNAMES") : "";
    for (std::uint64_t i = 0; i < count && i < 1024; ++i) {
      InheritedSocket s;
      s.fd = kFirstListenFd + static_cast<int>(i);
      size_t colon = names.find(':');
      s.name = names.substr(0, colon);
      names = colon == std::string::npos ? std::string() : names.substr(colon + 1);
      fcntl(s.fd, F_SETFD, FD_CLOEXEC);
      sockets.push_back(std::move(s));
    }
  }
  unsetenv("LISTEN_PID");
  unsetenv("LISTEN_FDS");
  unsetenv("LISTEN_FDNAMES");
  return sockets;
}

}  // namespace wsbridge::net::systemd
