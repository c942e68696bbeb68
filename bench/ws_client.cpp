#include "ws_client.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <fstream>
#include <sstream>
#include <vector>

#include <zlib.h>

namespace wsload {
namespace {

constexpr std::uint8_t kMaskKey[4] = {0x37, 0xfa, 0x21, 0x3d};
constexpr std::uint8_t kOpClose = 0x8;
constexpr std::uint8_t kOpPing = 0x9;
// One read at most; large enough that a busy push stream needs few reads.
constexpr std::size_t kReadSize = 256 * 1024;
// Handshake responses are small; anything longer is not a WebSocket server.
constexpr std::size_t kMaxHead = 16 * 1024;

std::size_t header_need(const std::uint8_t* h, std::size_t have) noexcept {
  if (have < 2) return 2;
  std::size_t need = 2;
  const std::uint8_t len7 = h[1] & 0x7F;
  if (len7 == 126) need += 2;
  else if (len7 == 127) need += 8;
  if (h[1] & 0x80) need += 4;  // a raw echo returns our own masked frames
  return need;
}

}  // namespace

double now_seconds() noexcept {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

std::string make_client_frame(std::uint8_t opcode, std::string_view payload) {
  std::string frame;
  frame.reserve(payload.size() + 14);
  frame.push_back(static_cast<char>(0x80 | opcode));
  const std::size_t n = payload.size();
  if (n < 126) {
    frame.push_back(static_cast<char>(0x80 | n));
  } else if (n <= 0xFFFF) {
    frame.push_back(static_cast<char>(0x80 | 126));
    frame.push_back(static_cast<char>(n >> 8));
    frame.push_back(static_cast<char>(n & 0xFF));
  } else {
    frame.push_back(static_cast<char>(0x80 | 127));
    for (int k = 7; k >= 0; --k) frame.push_back(static_cast<char>((static_cast<std::uint64_t>(n) >> (8 * k)) & 0xFF));
  }
  frame.append(reinterpret_cast<const char*>(kMaskKey), 4);
  const std::size_t start = frame.size();
  frame.append(payload);
  for (std::size_t i = 0; i < n; ++i) frame[start + i] = static_cast<char>(frame[start + i] ^ kMaskKey[i & 3]);
  return frame;
}

std::string make_compressed_client_frame(std::uint8_t opcode, std::string_view payload) {
  z_stream z{};
  deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY);
  std::string out(deflateBound(&z, payload.size()) + 16, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(payload.data()));
  z.avail_in = static_cast<uInt>(payload.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  deflate(&z, Z_SYNC_FLUSH);
  out.resize(out.size() - z.avail_out);
  deflateEnd(&z);
  if (out.size() >= 4) out.resize(out.size() - 4);  // 00 00 ff ff (RFC 7692 7.2.1)
  std::string frame = make_client_frame(opcode, out);
  frame[0] = static_cast<char>(frame[0] | 0x40);  // RSV1: compressed
  return frame;
}

Loop::Loop() { epoll_fd_ = epoll_create1(EPOLL_CLOEXEC); }

Loop::~Loop() {
  while (first_) abort(*first_, true);
  reap_dead();
  if (epoll_fd_ >= 0) ::close(epoll_fd_);
}

Conn* Loop::connect(std::uint16_t port, Handler* handler, bool raw) {
  port_ = port;
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    ++connect_errors;
    return nullptr;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno != EINPROGRESS) {
    ::close(fd);
    ++connect_errors;
    return nullptr;
  }
  auto* conn = new Conn;
  conn->fd = fd;
  conn->raw = raw;
  conn->handler = handler;
  conn->next = first_;
  if (first_) first_->prev = conn;
  first_ = conn;
  ++live_;
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
  ev.data.ptr = conn;
  epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev);
  return conn;
}

void Loop::send(Conn& conn, std::string_view bytes) {
  conn.out.append(bytes);
  flush(conn);
}

void Loop::flush(Conn& conn) {
  if (conn.state == Conn::State::Connecting || conn.state == Conn::State::Closed) return;
  while (conn.out_offset < conn.out.size()) {
    ssize_t n = ::write(conn.fd, conn.out.data() + conn.out_offset, conn.out.size() - conn.out_offset);
    if (n > 0) {
      conn.out_offset += static_cast<std::size_t>(n);
      if (conn.state != Conn::State::Handshake) conn.wire_out += static_cast<std::uint64_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;  // EPOLLOUT will tell us
    abort(conn, conn.state != Conn::State::Closing);
    return;
  }
  conn.out.clear();
  conn.out_offset = 0;
}

void Loop::start_close(Conn& conn, double grace) {
  if (conn.state == Conn::State::Closed) return;
  if (conn.raw || conn.state != Conn::State::Open) {
    abort(conn, false);
    return;
  }
  conn.state = Conn::State::Closing;
  conn.deadline = now_seconds() + grace;
  if (!conn.close_sent) {
    conn.close_sent = true;
    static const std::string close_frame = make_client_frame(kOpClose, std::string("\x03\xe8", 2));
    send(conn, close_frame);
  }
}

void Loop::abort(Conn& conn, bool failed) {
  if (conn.state == Conn::State::Closed) return;
  conn.state = Conn::State::Closed;
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, conn.fd, nullptr);
  ::close(conn.fd);
  conn.fd = -1;
  if (conn.prev) conn.prev->next = conn.next;
  else first_ = conn.next;
  if (conn.next) conn.next->prev = conn.prev;
  conn.prev = nullptr;
  conn.next = dead_;
  dead_ = &conn;
  --live_;
  conn.handler->on_closed(conn, failed);
}

void Loop::reap_dead() {
  while (dead_) {
    Conn* next = dead_->next;
    delete dead_;
    dead_ = next;
  }
}

void Loop::poll_once(int timeout_ms) {
  epoll_event events[256];
  int n = epoll_wait(epoll_fd_, events, 256, timeout_ms);
  for (int i = 0; i < n; ++i) {
    auto* conn = static_cast<Conn*>(events[i].data.ptr);
    if (conn->state != Conn::State::Closed) on_event(*conn, events[i].events);
  }
  reap_dead();
  double now = now_seconds();
  if (now - last_expiry_check_ > 0.1) {
    last_expiry_check_ = now;
    expire_closing();
    reap_dead();
  }
}

void Loop::expire_closing() {
  const double now = now_seconds();
  for (Conn* c = first_; c != nullptr;) {
    Conn* next = c->next;
    if (c->state == Conn::State::Closing && now > c->deadline) abort(*c, false);
    c = next;
  }
}

void Loop::on_event(Conn& conn, std::uint32_t events) {
  if (conn.state == Conn::State::Connecting) {
    if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
    int err = 0;
    socklen_t len = sizeof err;
    getsockopt(conn.fd, SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      ++connect_errors;
      abort(conn, true);
      return;
    }
    if (conn.raw) {
      conn.state = Conn::State::Open;
      conn.opened = true;
      conn.handler->on_open(conn);
    } else {
      conn.state = Conn::State::Handshake;
      char request[384];
      int n = std::snprintf(request, sizeof request,
                            "GET / HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nUpgrade: websocket\r\n"
                            "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                            "Sec-WebSocket-Version: 13\r\n%s\r\n",
                            static_cast<unsigned>(port_),
                            offer_deflate_ ? "Sec-WebSocket-Extensions: permessage-deflate; client_no_context_takeover\r\n"
                                           : "");
      conn.out.insert(0, request, static_cast<std::size_t>(n));
    }
  }
  if (conn.state == Conn::State::Closed) return;
  if (events & EPOLLOUT) flush(conn);
  if (conn.state == Conn::State::Closed) return;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) on_readable(conn);
}

void Loop::on_readable(Conn& conn) {
  static std::uint8_t buffer[kReadSize];
  for (;;) {
    ssize_t n = ::read(conn.fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) return;
    if (n <= 0) {
      // EOF: orderly if the WebSocket close handshake (or the message
      // exchange, for servers that just drop TCP) had happened.
      abort(conn, n < 0 || !conn.opened);
      return;
    }
    const auto size = static_cast<std::size_t>(n);
    if (conn.state == Conn::State::Handshake) {
      conn.head.append(reinterpret_cast<char*>(buffer), size);
      std::size_t end = conn.head.find("\r\n\r\n");
      if (end == std::string::npos) {
        if (conn.head.size() > kMaxHead) abort(conn, true);
        if (conn.state == Conn::State::Closed) return;
        continue;
      }
      if (conn.head.compare(0, 12, "HTTP/1.1 101") != 0) {
        abort(conn, true);
        return;
      }
      std::string rest = conn.head.substr(end + 4);
      conn.deflate = conn.head.substr(0, end).find("permessage-deflate") != std::string::npos;
      conn.wire_in += rest.size();
      conn.head.clear();
      conn.head.shrink_to_fit();
      conn.state = Conn::State::Open;
      conn.opened = true;
      conn.handler->on_open(conn);
      if (conn.state == Conn::State::Closed) return;
      if (!rest.empty()) parse_frames(conn, reinterpret_cast<const std::uint8_t*>(rest.data()), rest.size());
    } else {
      conn.wire_in += size;
      parse_frames(conn, buffer, size);
    }
    if (conn.state == Conn::State::Closed) return;
    flush(conn);  // replies queued while parsing go out in one write
    if (conn.state == Conn::State::Closed) return;
  }
}

void Loop::parse_frames(Conn& conn, const std::uint8_t* data, std::size_t size) {
  while (size > 0 && conn.state != Conn::State::Closed) {
    if (!conn.in_payload) {
      std::size_t need = header_need(conn.header, conn.header_have);
      while (conn.header_have < need && size > 0) {
        conn.header[conn.header_have++] = *data++;
        --size;
        need = header_need(conn.header, conn.header_have);
      }
      if (conn.header_have < need) return;
      const std::uint8_t b0 = conn.header[0], b1 = conn.header[1];
      conn.frame_fin = (b0 & 0x80) != 0;
      conn.frame_opcode = b0 & 0x0F;
      std::uint64_t len = b1 & 0x7F;
      if (len == 126) {
        len = (std::uint64_t{conn.header[2]} << 8) | conn.header[3];
      } else if (len == 127) {
        len = 0;
        for (int k = 0; k < 8; ++k) len = (len << 8) | conn.header[2 + k];
      }
      conn.header_have = 0;
      conn.payload_left = len;
      conn.in_payload = true;
      if (conn.frame_opcode != 0 && conn.frame_opcode < 8) {
        conn.message_opcode = conn.frame_opcode;
        conn.message_compressed = (b0 & 0x40) != 0;
        conn.message_size = 0;
      }
    } else {
      std::size_t take = size;
      if (conn.payload_left < take) take = static_cast<std::size_t>(conn.payload_left);
      conn.payload_left -= take;
      if (conn.frame_opcode < 8) {
        conn.message_size += take;
        conn.payload_bytes += take;
      }
      data += take;
      size -= take;
    }
    if (conn.in_payload && conn.payload_left == 0) on_frame_end(conn);
  }
}

void Loop::on_frame_end(Conn& conn) {
  conn.in_payload = false;
  if (conn.frame_opcode == kOpClose) {
    conn.close_received = true;
    if (!conn.close_sent) {
      // Answer the server's close, then wait for its FIN (it closes first).
      start_close(conn);
    }
    return;
  }
  if (conn.frame_opcode == kOpPing) return;  // no server here sends pings
  if (conn.frame_opcode >= 8) return;
  if (conn.frame_fin) conn.handler->on_message(conn, conn.message_opcode, conn.message_size);
}

namespace {

// wsbridge starts every child through this helper process of its own (a
// child of the server, alive as long as it is). It does part of each
// connection's work that websocketd does inside its single process.
constexpr char kSpawnerName[] = "wsbridge-spawn";

std::string proc_path(const std::string& pid, const char* leaf) { return "/proc/" + pid + "/" + leaf; }

// utime + stime of one process, all its threads, in seconds; 0 once it is gone.
double cpu_seconds_of(const std::string& pid) {
  std::ifstream stat(proc_path(pid, "stat"));
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  std::size_t paren = text.rfind(')');
  if (paren == std::string::npos) return 0;
  std::istringstream fields(text.substr(paren + 2));
  std::string field;
  unsigned long utime = 0, stime = 0;
  // After "pid (comm) " the fields start at number 3 (state); utime is 14.
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) utime = std::stoul(field);
    if (index == 15) stime = std::stoul(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

std::string name_of(const std::string& pid) {
  std::ifstream comm(proc_path(pid, "comm"));
  std::string name;
  std::getline(comm, name);
  return name;
}

// Entries of a /proc folder other than . and .. (a process's descriptors).
long count_entries(const std::string& dir) {
  DIR* folder = opendir(dir.c_str());
  if (folder == nullptr) return 0;
  long count = 0;
  while (dirent* entry = readdir(folder)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) ++count;
  }
  closedir(folder);
  return count;
}

// Living children of `pid`: each thread lists those it started.
std::vector<std::string> children_of(int pid) {
  std::vector<std::string> children;
  std::string dir = "/proc/" + std::to_string(pid) + "/task";
  DIR* tasks = opendir(dir.c_str());
  if (tasks == nullptr) return children;
  while (dirent* entry = readdir(tasks)) {
    if (entry->d_name[0] == '.') continue;
    std::ifstream list(dir + "/" + entry->d_name + "/children");
    std::string child;
    while (list >> child) children.push_back(child);
  }
  closedir(tasks);
  return children;
}

}  // namespace

ProcessSample sample_process(int pid) {
  ProcessSample sample;
  if (pid <= 0) return sample;
  std::string self = std::to_string(pid);
  sample.cpu_seconds = cpu_seconds_of(self);
  for (const std::string& child : children_of(pid)) {
    if (name_of(child) == kSpawnerName) sample.cpu_seconds += cpu_seconds_of(child);
  }
  std::ifstream status(proc_path(self, "status"));
  std::string line;
  while (std::getline(status, line)) {
    if (line.compare(0, 6, "VmRSS:") == 0) sample.rss_kib = std::stol(line.substr(6));
  }
  sample.descriptors = count_entries(proc_path(self, "fd"));
  // "Max open files  <soft>  <hard>  files": the limit the server set for
  // itself, which may be above the one it was started with.
  std::ifstream limits(proc_path(self, "limits"));
  while (std::getline(limits, line)) {
    if (line.compare(0, 14, "Max open files") == 0) {
      std::istringstream values(line.substr(14));
      values >> sample.open_files_limit;
    }
  }
  return sample;
}

int count_children(int pid) {
  if (pid <= 0) return 0;
  int count = 0;
  for (const std::string& child : children_of(pid)) {
    // The spawner lives as long as the server; it is not a child started
    // for a connection.
    if (name_of(child) != kSpawnerName) ++count;
  }
  return count;
}

}  // namespace wsload
