#include "net/client_stream.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <cerrno>

#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;
constexpr auto kToProgram = static_cast<std::size_t>(metrics::Direction::ToProgram);

}  // namespace

bool ClientStream::accept_from(uv_stream_t* listener, bool with_tls) noexcept {
  uv_loop_t* loop = listener->loop;
  // The socket is TCP, or a Unix domain socket (--unixsocket), like its listener.
  if (listener->type == UV_NAMED_PIPE) {
    uv_pipe_init(loop, &socket_.pipe, 0);
  } else {
    uv_tcp_init(loop, &socket_.tcp);
  }
  socket_.handle.data = this;
  ++open_handles_;
  uv_timer_init(loop, &timer_);
  timer_.data = this;
  ++open_handles_;

  int err = uv_accept(listener, &socket_.stream);
  if (err != 0) {
    // EMFILE and friends: libuv already shed the pending connection.
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(err));
    close();
    return false;
  }
  ++context_.metrics.connections_accepted;
  if (listener->type == UV_TCP) {
    // A client that vanishes without a FIN or RST (power loss, a NAT drop)
    // is found by TCP keepalive even when neither side writes, so its child
    // does not live forever. Go, and so websocketd, probe after 15 s too.
    uv_tcp_keepalive(&socket_.tcp, 1, kTcpKeepaliveDelaySeconds);
  }
  queue_.attach(&socket_.stream, this);
  if (context_.config->proxy_protocol) proxy_header_.reset(new (std::nothrow) http::ProxyHeaderParser);
  if (with_tls && !start_tls()) {
    close();
    return false;
  }
  return true;
}

bool ClientStream::start_tls() noexcept {
  // The session's SSL object keeps the SSL_CTX it was made from, so the
  // reference taken here is needed only until then (SIGHUP may swap it).
  const std::shared_ptr<const tls::TlsContext> tls_context = context_.tls_context->current();
  tls_.reset(new (std::nothrow) tls::TlsSession(tls_context->get()));
  if (!tls_ || !tls_->valid()) {
    log::write(LogLevel::Error, "server", "", "Cannot create a TLS session");
    return false;
  }
  queue_.set_tls(tls_.get());
  return true;
}

void ClientStream::start_reading() noexcept {
  if (closed_ || input_ended_ || pause_reasons_ != 0 || reading_) return;
  reading_ = true;
  uv_read_start(&socket_.stream, &ClientStream::on_alloc, &ClientStream::on_read);
}

void ClientStream::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  // Every stream of a loop reads into the loop's one scratch buffer: each
  // read is consumed before the next one is made.
  ServerContext& context = static_cast<ClientStream*>(handle->data)->context_;
  *buf = uv_buf_init(context.read_buffer, sizeof context.read_buffer);
}

void ClientStream::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<ClientStream*>(stream->data);
  if (self->lingering_) {
    self->drop_lingering_input(nread);
    return;
  }
  if (nread > 0) {
    auto size = static_cast<std::size_t>(nread);
    char* data = buf->base;
    if (self->proxy_header_ && !self->read_proxy_header(data, size)) return;
    if (size == 0) return;
    if (self->tls_) {
      self->on_tls_records(data, size);
    } else if (!self->input_ignored_) {
      self->handler_->on_stream_data(data, size);
    }
    return;
  }
  if (nread == 0) return;  // EAGAIN
  // EOF or error: nothing more will come. (libuv stops reading at EOF; a
  // paused and resumed stream must not ask again.)
  uv_read_stop(stream);
  self->reading_ = false;
  self->input_ended_ = true;
  self->handler_->on_stream_input_ended(static_cast<int>(nread));
}

bool ClientStream::read_proxy_header(char*& data, std::size_t& size) noexcept {
  std::size_t consumed = 0;
  switch (proxy_header_->feed(data, size, consumed)) {
    case http::ProxyHeaderParser::Status::NeedMore:
      size = 0;
      return true;
    case http::ProxyHeaderParser::Status::Error:
      // Not HTTP yet, so no HTTP answer: the proxy is misconfigured or this
      // is not a proxy at all.
      log::write(LogLevel::Access, "http", "", "PROXY protocol error: " + proxy_header_->error());
      close();
      return false;
    case http::ProxyHeaderParser::Status::Done:
      break;
  }
  if (proxy_header_->has_source()) {
    try {
      proxied_peer_.reset(new ProxiedPeer{proxy_header_->source_address(), proxy_header_->source_port()});
    } catch (const std::bad_alloc&) {
      // The socket's peer stands in for the client then.
    }
  }
  proxy_header_.reset();
  data += consumed;
  size -= consumed;
  return true;
}

void ClientStream::on_tls_records(const char* data, std::size_t size) noexcept {
  std::string& plaintext = context_.tls_plaintext;
  std::string& replies = context_.tls_replies;
  plaintext.clear();
  replies.clear();
  bool ok;
  try {
    ok = tls_->receive(data, size, plaintext, replies);
  } catch (const std::bad_alloc&) {
    ok = false;
  }
  if (!replies.empty()) {
    queue_.write_raw(replies.data(), replies.size());
    // Records the TLS layer writes on its own (handshake, KeyUpdate and
    // renegotiation replies) obey the watermarks like any output: a client
    // that keeps asking for them and never reads is no longer read until it
    // takes what it is owed (on_queue_drained resumes), so they cannot pile
    // up without bound.
    if (queue_.over_high_water()) pause_reading(kOutputFull);
  }
  if (!ok) {
    if (input_ignored_) return;
    // websocketd (Go) reports these as "http: TLS handshake error from ...".
    log::write(LogLevel::Access, "http", log_fields_, "TLS error: " + tls_->error());
    if (!tls_->handshake_done()) ++context_.metrics.tls_handshakes_failed;
    queue_.set_tls(nullptr);  // no close_notify on a broken session
    input_ignored_ = true;
    queue_.finish_then();
    return;
  }
  if (!plaintext.empty() && !input_ignored_) handler_->on_stream_data(plaintext.data(), plaintext.size());
  if (tls_ && tls_->peer_closed() && !closed_) {
    // close_notify: the client will send nothing more, as at EOF.
    handler_->on_stream_input_ended(UV_EOF);
  }
}

void ClientStream::pause_reading(std::uint8_t reason) noexcept {
  if (closed_) return;
  if (reading_) {
    uv_read_stop(&socket_.stream);
    reading_ = false;
  }
  if (reason == kProgramInputFull && (pause_reasons_ & kProgramInputFull) == 0) {
    ++context_.metrics.backpressure_pauses[kToProgram];
  }
  pause_reasons_ |= reason;
}

void ClientStream::resume_reading(std::uint8_t reason) noexcept {
  if ((pause_reasons_ & reason) == 0) return;
  pause_reasons_ &= static_cast<std::uint8_t>(~reason);
  start_reading();
}

void ClientStream::start_timer(std::uint64_t timeout_ms, std::uint64_t repeat_ms) noexcept {
  if (closed_) return;
  uv_timer_start(&timer_, &ClientStream::on_timer, timeout_ms, repeat_ms);
}

void ClientStream::stop_timer() noexcept { uv_timer_stop(&timer_); }

void ClientStream::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<ClientStream*>(timer->data);
  if (self->lingering_) {
    self->close();  // lingered long enough
    return;
  }
  self->handler_->on_stream_timer();
}

// Peer address as websocketd reports it: IPv4-mapped IPv6 addresses (from a
// dual-stack listener) become plain IPv4, IPv6 has no brackets.
void ClientStream::peer_address(std::string& address, std::string& port) const {
  if (proxied_peer_) {
    address = proxied_peer_->address;
    port = proxied_peer_->port;
    return;
  }
  if (socket_.handle.type == UV_NAMED_PIPE) {
    // websocketd (main branch) names Unix-socket peers this way.
    address = "unix-socket";
    port.clear();
    return;
  }
  sockaddr_storage storage{};
  int length = sizeof storage;
  if (uv_tcp_getpeername(&socket_.tcp, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return;
  char text[INET6_ADDRSTRLEN] = {};
  if (storage.ss_family == AF_INET) {
    auto* in = reinterpret_cast<sockaddr_in*>(&storage);
    inet_ntop(AF_INET, &in->sin_addr, text, sizeof text);
    port = std::to_string(ntohs(in->sin_port));
  } else if (storage.ss_family == AF_INET6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], text, sizeof text);
    } else {
      inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof text);
    }
    port = std::to_string(ntohs(in6->sin6_port));
  }
  address = text;
}

bool ClientStream::peer_has_left() const noexcept {
  if (input_ended_) return true;
  uv_os_fd_t fd = -1;
  if (closed_ || uv_fileno(&socket_.handle, &fd) != 0) return false;
  if (socket_.handle.type == UV_TCP) {
    tcp_info info{};
    socklen_t length = sizeof info;
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &length) == 0) {
      return info.tcpi_state == TCP_CLOSE_WAIT || info.tcpi_state == TCP_CLOSE;
    }
  }
  // A Unix socket (or no TCP_INFO): EOF shows when nothing unread is before it.
  char byte;
  const ssize_t peeked = ::recv(fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  return peeked == 0 || (peeked < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

std::string ClientStream::local_host() const {
  sockaddr_storage local{};
  int length = sizeof local;
  char text[INET6_ADDRSTRLEN] = "localhost";
  if (socket_.handle.type != UV_TCP ||
      uv_tcp_getsockname(&socket_.tcp, reinterpret_cast<sockaddr*>(&local), &length) != 0) {
    return text;
  }
  if (local.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, text, sizeof text);
    return text;
  }
  if (local.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, text, sizeof text);
    return std::string("[") + text + "]";
  }
  return text;
}

// ------------------------------------------------------- queue callbacks

void ClientStream::on_queue_drained(WriteQueue& /*queue*/) noexcept {
  resume_reading(kOutputFull);
  if (!closed_) handler_->on_stream_drained();
}

void ClientStream::on_queue_finished(WriteQueue& /*queue*/) noexcept {
  // Everything (the close frame or an HTTP response) is written: send FIN,
  // then close. The server closes the TCP connection first (RFC 6455 §7.1.1).
  if (closed_) return;
  shutdown_request_.data = this;
  if (uv_shutdown(&shutdown_request_, &socket_.stream, &ClientStream::on_shutdown) != 0) close();
}

void ClientStream::on_shutdown(uv_shutdown_t* request, int /*status*/) noexcept {
  static_cast<ClientStream*>(request->data)->close_or_linger();
}

void ClientStream::close_or_linger() noexcept {
  if (!linger_wanted_ || input_ended_ || closed_) {
    close();
    return;
  }
  // The timer is the stream's own from here: the handler has nothing more
  // to time. Whatever paused reading (a full program input) no longer
  // matters, as nothing read is kept.
  lingering_ = true;
  pause_reasons_ = 0;
  uv_timer_start(&timer_, &ClientStream::on_timer, kLingerTimeMs, 0);
  start_reading();
}

void ClientStream::drop_lingering_input(ssize_t nread) noexcept {
  if (nread == 0) return;  // EAGAIN
  // EOF or an error ends the wait; so does enough input.
  if (nread < 0) {
    close();
    return;
  }
  lingered_bytes_ += static_cast<std::uint64_t>(nread);
  if (lingered_bytes_ > kLingerBytes) close();
}

void ClientStream::on_queue_error(WriteQueue& /*queue*/, int uv_error) noexcept {
  log::write(LogLevel::Debug, "websocket", log_fields_, std::string("Cannot send: ") + uv_strerror(uv_error));
  close();
}

// --------------------------------------------------------------- teardown

void ClientStream::close() noexcept {
  if (closed_) return;
  closed_ = true;
  if (reading_) uv_read_stop(&socket_.stream);
  reading_ = false;
  uv_close(&socket_.handle, &ClientStream::on_handle_closed);
  uv_timer_stop(&timer_);
  uv_close(as_handle(&timer_), &ClientStream::on_handle_closed);
  if (handler_ != nullptr) handler_->on_stream_closed();
}

void ClientStream::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<ClientStream*>(handle->data);
  if (--self->open_handles_ == 0) self->owner_.on_part_closed();
}

}  // namespace wsbridge::net
