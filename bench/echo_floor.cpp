// echo_floor: the fastest a single-threaded server can bounce bytes on this
// machine — epoll, edge-triggered, one read and one write per wakeup, no
// framing, no child. wsload's echo and pingpong workloads run against it
// with --raw, sending the same masked frames they send to a bridge, so a
// bridge's figure can be read as a fraction of this floor.
//   echo_floor --port=P     (127.0.0.1 only; ends on SIGTERM/SIGINT)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

volatile std::sig_atomic_t g_stop = 0;
void on_signal(int) { g_stop = 1; }

struct Peer {
  int fd;
  std::string pending;  // echoed bytes the kernel did not take yet
};

// Writes what it can; returns false when the peer is gone.
bool flush(Peer& p) {
  while (!p.pending.empty()) {
    ssize_t n = write(p.fd, p.pending.data(), p.pending.size());
    if (n > 0) {
      p.pending.erase(0, static_cast<std::size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    return n < 0 && errno == EAGAIN;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  int port = 0;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--port=", 7) == 0) port = std::atoi(argv[i] + 7);
  }
  if (port <= 0) {
    std::fprintf(stderr, "usage: echo_floor --port=P\n");
    return 2;
  }
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);

  int listener = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(listener, 4096) != 0) {
    std::perror("echo_floor: bind/listen");
    return 1;
  }
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event lev{};
  lev.events = EPOLLIN;
  lev.data.ptr = nullptr;
  epoll_ctl(ep, EPOLL_CTL_ADD, listener, &lev);

  static char buffer[64 * 1024];
  epoll_event events[256];
  while (!g_stop) {
    int n = epoll_wait(ep, events, 256, 200);
    for (int i = 0; i < n; ++i) {
      if (events[i].data.ptr == nullptr) {
        for (;;) {
          int fd = accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
          if (fd < 0) break;
          setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
          auto* peer = new Peer{fd, {}};
          epoll_event ev{};
          ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
          ev.data.ptr = peer;
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
        }
        continue;
      }
      auto* peer = static_cast<Peer*>(events[i].data.ptr);
      bool alive = flush(*peer);
      while (alive && peer->pending.empty()) {
        ssize_t r = read(peer->fd, buffer, sizeof buffer);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0 && errno == EAGAIN) break;
        if (r <= 0) {
          alive = false;
          break;
        }
        ssize_t w = write(peer->fd, buffer, static_cast<std::size_t>(r));
        if (w < 0 && errno != EAGAIN) {
          alive = false;
          break;
        }
        if (w < 0) w = 0;
        // Keep what the kernel refused; EPOLLOUT resumes (and reading waits).
        if (w < r) peer->pending.assign(buffer + w, static_cast<std::size_t>(r - w));
      }
      if (!alive) {
        epoll_ctl(ep, EPOLL_CTL_DEL, peer->fd, nullptr);
        close(peer->fd);
        delete peer;
      }
    }
  }
  close(ep);
  close(listener);
  return 0;
}
