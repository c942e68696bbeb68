#include "net/connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/uv_cast.h"
#include "net/devconsole.h"
#include "net/disk_fs_view.h"
#include "net/static_responder.h"
#include "proc/spawn.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/bridge/cgi_script_env.h"
#include "wsbridge/bridge/utf8_sanitizer.h"
#include "wsbridge/bridge/client_address.h"
#include "wsbridge/bridge/tagged_output.h"
#include "wsbridge/http/proxy_protocol.h"
#include "wsbridge/http/response.h"
#include "wsbridge/route/https_redirect.h"
#include "wsbridge/route/router.h"
#include "wsbridge/ws/frame_encoder.h"
#include "wsbridge/ws/handshake.h"

namespace wsbridge::net {
namespace {

using log::LogLevel;


// Peer address as websocketd reports it: IPv4-mapped IPv6 addresses (from a
// dual-stack listener) become plain IPv4, IPv6 has no brackets.
void peer_address(const SocketHandle& socket, std::string& address, std::string& port) {
  if (socket.handle.type == UV_NAMED_PIPE) {
    // websocketd (main branch) names Unix-socket peers this way.
    address = "unix-socket";
    port.clear();
    return;
  }
  sockaddr_storage storage{};
  int length = sizeof storage;
  if (uv_tcp_getpeername(&socket.tcp, reinterpret_cast<sockaddr*>(&storage), &length) != 0) return;
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

std::string describe_exit(int wait_status) {
  if (WIFEXITED(wait_status)) return "exited with status " + std::to_string(WEXITSTATUS(wait_status));
  if (WIFSIGNALED(wait_status)) {
    int sig = WTERMSIG(wait_status);
    const char* name = sigabbrev_np(sig);
    return "killed by signal " + std::to_string(sig) + (name ? std::string(" (SIG") + name + ")" : "");
  }
  return "ended with wait status " + std::to_string(wait_status);
}

}  // namespace

// ---------------------------------------------------------------- lifecycle

Connection::Connection(ServerContext& context) : context_(context) {
  std::size_t max_line = context.max_line;
  stdout_lines_ = bridge::LineSplitter(max_line);
}

Connection::~Connection() = default;

void Connection::accept_from(uv_stream_t* listener, ServerContext& context, bool redirect_only) noexcept {
  auto* connection = new (std::nothrow) Connection(context);
  if (connection == nullptr) {
    // libuv has accepted the socket and holds it until uv_accept takes it,
    // not watching the listener meanwhile: a connection we cannot afford
    // would stall every later one. Drop it (the client sees a reset) through
    // the private field libuv keeps it in (uv_stream_t's accepted_fd; libuv
    // 1.44), and libuv goes on accepting.
    log::write(LogLevel::Error, "server", "", "Out of memory: a new connection was dropped");
    if (listener->accepted_fd >= 0) ::close(listener->accepted_fd);
    listener->accepted_fd = -1;
    return;
  }
  connection->redirect_only_ = redirect_only;
  uv_loop_t* loop = listener->loop;
  // The socket is TCP, or a Unix domain socket (--unixsocket), like its listener.
  if (listener->type == UV_NAMED_PIPE) {
    uv_pipe_init(loop, &connection->socket_.pipe, 0);
  } else {
    uv_tcp_init(loop, &connection->socket_.tcp);
  }
  connection->socket_.handle.data = connection;
  ++connection->open_handles_;
  uv_timer_init(loop, &connection->timer_);
  connection->timer_.data = connection;
  ++connection->open_handles_;

  // Link first, so every exit path below goes through the normal teardown.
  connection->next_ = context.first_connection;
  if (context.first_connection) context.first_connection->prev_ = connection;
  context.first_connection = connection;
  ++context.connection_count;

  int err = uv_accept(listener, &connection->socket_.stream);
  if (err != 0) {
    // EMFILE and friends: libuv already shed the pending connection.
    log::write(LogLevel::Error, "server", "", std::string("Accept failed: ") + uv_strerror(err));
    connection->close_socket();
    return;
  }
  ++context.metrics.connections_accepted;
  if (listener->type == UV_TCP) {
    uv_tcp_nodelay(&connection->socket_.tcp, 1);
    // A peer that vanishes without a FIN (power loss, a dropped NAT entry)
    // is found by TCP keepalive even when neither side writes, so its child
    // does not live forever. Go, and so websocketd, probe after 15 s too.
    uv_tcp_keepalive(&connection->socket_.tcp, 1, kTcpKeepaliveDelaySeconds);
  }
  connection->socket_queue_.attach(&connection->socket_.stream, connection);
  if (context.config->proxy_protocol) {
    connection->proxy_header_.reset(new (std::nothrow) http::ProxyHeaderParser);
  }
  if (context.tls_context != nullptr && !redirect_only) {
    // The session's SSL object keeps the SSL_CTX it was made from, so the
    // reference taken here is needed only until then (SIGHUP may swap it).
    const std::shared_ptr<const tls::TlsContext> tls_context = context.tls_context->current();
    connection->tls_.reset(new (std::nothrow) tls::TlsSession(tls_context->get()));
    if (!connection->tls_ || !connection->tls_->valid()) {
      log::write(LogLevel::Error, "server", "", "Cannot create a TLS session");
      connection->close_socket();
      return;
    }
    connection->socket_queue_.set_tls(connection->tls_.get());
  }
  connection->parser_ = std::unique_ptr<http::RequestParser>(
      new (std::nothrow) http::RequestParser(context.parser_limits));
  if (!connection->parser_) {
    connection->close_socket();
    return;
  }
  uv_timer_start(&connection->timer_, &Connection::on_timer, kRequestTimeoutMs, 0);
  uv_read_start(&connection->socket_.stream, &Connection::on_alloc, &Connection::on_socket_read);
}

void Connection::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  // Every stream of a connection reads into the loop's one scratch buffer:
  // each read is consumed before the next one is made.
  ServerContext& context = static_cast<Connection*>(handle->data)->context_;
  *buf = uv_buf_init(context.read_buffer, sizeof context.read_buffer);
}

void Connection::on_timer(uv_timer_t* timer) noexcept {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->phase_ == Phase::ReadingRequest) {
    log::write(LogLevel::Access, "http", self->log_fields_,
               "Request head not received within " + std::to_string(kRequestTimeoutMs) + " ms");
    self->refuse(http::Refusal::RequestTimeout);
    return;
  }
  if (self->phase_ == Phase::WebSocket && !self->close_sent_ && self->context_.config->pingms != 0) {
    self->on_ping_tick();
    return;
  }
  // The close handshake, or a response, did not finish in time.
  self->close_socket();
}

void Connection::on_ping_tick() noexcept {
  // --pingms: a ping every interval; a peer that has sent nothing at all
  // (no pong, no data) for two intervals is gone, as websocketd's main
  // branch decides. Proxies with read timeouts see traffic meanwhile.
  // While reading is paused for backpressure the peer's pongs wait unread
  // in the kernel: silence then says nothing about the peer.
  if (socket_pause_reasons_ != 0) silent_ping_intervals_ = 0;
  if (++silent_ping_intervals_ > 2) {
    log::write(LogLevel::Access, "websocket", log_fields_, "No answer to pings: dropping the connection");
    close_socket();
    return;
  }
  send_frame(ws::Opcode::Ping, "wsbridge");
}

// ------------------------------------------------------------ HTTP requests

void Connection::on_socket_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<Connection*>(stream->data);
  if (nread > 0) {
    auto size = static_cast<std::size_t>(nread);
    char* data = buf->base;
    if (self->proxy_header_ && !self->read_proxy_header(data, size)) return;
    if (size == 0) return;
    if (self->tls_) {
      self->on_tls_records(data, size);
    } else {
      self->on_plaintext(data, size);
    }
    return;
  }
  if (nread == 0) return;  // EAGAIN
  // EOF or error: the client is gone (or half-closed: nothing more will come).
  if (self->phase_ == Phase::WebSocket && !self->close_received_) {
    log::write(LogLevel::Debug, "websocket", self->log_fields_,
               std::string("Client went away without a close frame: ") + uv_strerror(static_cast<int>(nread)));
  }
  self->close_socket();
}

bool Connection::read_proxy_header(char*& data, std::size_t& size) noexcept {
  std::size_t consumed = 0;
  switch (proxy_header_->feed(data, size, consumed)) {
    case http::ProxyHeaderParser::Status::NeedMore:
      size = 0;
      return true;
    case http::ProxyHeaderParser::Status::Error:
      // Not HTTP yet, so no HTTP answer: the proxy is misconfigured or this
      // is not a proxy at all.
      log::write(LogLevel::Access, "http", "", "PROXY protocol error: " + proxy_header_->error());
      close_socket();
      return false;
    case http::ProxyHeaderParser::Status::Done:
      break;
  }
  if (proxy_header_->has_source()) {
    try {
      proxied_peer_.reset(new ProxiedPeer{proxy_header_->source_address(), proxy_header_->source_port()});
    } catch (...) {
    }
  }
  proxy_header_.reset();
  data += consumed;
  size -= consumed;
  return true;
}

void Connection::remote_endpoint(const http::Request& request, std::string& address, std::string& port) const {
  if (proxied_peer_) {
    address = proxied_peer_->address;
    port = proxied_peer_->port;
  } else {
    peer_address(socket_, address, port);
  }
  // Behind a trusted proxy the client is who the proxy says it is.
  if (!context_.trusted_proxies.empty()) {
    std::string client = bridge::client_address(address, request, context_.trusted_proxies);
    if (client != address) {
      address = std::move(client);
      port.clear();  // the proxy does not tell the client's port
    }
  }
}

bridge::ConnectionFacts Connection::connection_facts(const http::Request& request,
                                                     const route::Route& route) const {
  bridge::ConnectionFacts facts;
  remote_endpoint(request, facts.remote_addr, facts.remote_port);
  facts.remote_host = facts.remote_addr;
  facts.tls = tls_ != nullptr;
  facts.script_name = route.script_name;
  facts.path_info = route.path_info;
  facts.unique_id = std::to_string(unique_id_);  // the log's id, as websocketd
  facts.server_software = context_.server_software;
  return facts;
}

void Connection::on_tls_records(const char* data, std::size_t size) noexcept {
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
  if (!replies.empty()) socket_queue_.write_raw(replies.data(), replies.size());
  if (!ok) {
    // websocketd (Go) reports these as "http: TLS handshake error from ...".
    log::write(LogLevel::Access, "http", log_fields_, "TLS error: " + tls_->error());
    if (!tls_->handshake_done()) ++context_.metrics.tls_handshakes_failed;
    socket_queue_.set_tls(nullptr);  // no close_notify on a broken session
    phase_ = Phase::Responding;
    socket_queue_.finish_then();
    return;
  }
  if (!plaintext.empty()) on_plaintext(plaintext.data(), plaintext.size());
  if (tls_ && tls_->peer_closed() && !socket_closed_) {
    // close_notify: the client will send nothing more, as at EOF.
    close_socket();
  }
}

void Connection::on_plaintext(char* data, std::size_t size) noexcept {
  if (lookup_) {
    hold_during_lookup(data, size);
  } else if (phase_ == Phase::ReadingRequest) {
    on_request_bytes(data, size);
  } else if (phase_ == Phase::WebSocket) {
    on_websocket_bytes(data, size);
  } else if (cgi_) {
    cgi_->on_request_body(data, size);  // a CGI request's body
  }
  // Otherwise (Phase::Responding): anything more the client sends is ignored.
}

void Connection::on_request_bytes(char* data, std::size_t size) noexcept {
  std::size_t consumed = 0;
  auto status = parser_->feed(data, size, consumed);
  if (status == http::RequestParser::Status::NeedMore) return;
  if (status == http::RequestParser::Status::Error) {
    log::write(LogLevel::Access, "http", log_fields_, "Bad request: " + parser_->error_reason());
    refuse(http::refusal_for_request_error(parser_->error_status()), parser_->error_reason());
    return;
  }
  handle_request(data + consumed, size - consumed);
}

std::string Connection::describe_request(const http::Request& request) const {
  const std::string* host = request.find_header("Host");
  return std::string(tls_ ? "https://" : "http://") + (host ? *host : "") + request.target;
}

void Connection::handle_request(char* rest, std::size_t rest_size) noexcept {
  uv_timer_stop(&timer_);
  request_completed_ns_ = uv_hrtime();
  const http::Request& request = parser_->request();
  try {
    std::string remote_addr, remote_port;
    remote_endpoint(request, remote_addr, remote_port);
    log_fields_.clear();
    log::append_field(log_fields_, "url", describe_request(request));
    unique_id_ = context_.unique_ids->next();
    log::append_field(log_fields_, "id", std::to_string(unique_id_));
    log::append_field(log_fields_, "remote", remote_addr);
    if (redirect_only_) {
      redirect_to_https(request);
      return;
    }
    static const DiskFsView disk;
    route::Route route = route::route_request(request, *context_.config, disk);
    // websocketd names the program in every line of a COMMAND server, and
    // the script in --dir mode once one is found.
    if (route.kind == route::RouteKind::WebSocketScript) {
      log::append_field(log_fields_, "command", route.file_path);
    } else if (!context_.command_text.empty()) {
      log::append_field(log_fields_, "command", context_.command_text);
    }
    switch (route.kind) {
      case route::RouteKind::WebSocketCommand:
      case route::RouteKind::WebSocketScript:
        start_websocket(request, route, rest, rest_size);
        return;
      case route::RouteKind::ScriptNotFound:
        // websocketd takes a fork slot before it looks for the script.
        if (context_.fork_limit_reached()) {
          log::write(LogLevel::Error, "http", log_fields_, "Max of possible forks already active, upgrade rejected");
          refuse(http::Refusal::ForkLimit);
          return;
        }
        log::write(LogLevel::Access, "session", log_fields_, "NOT FOUND: script not found");
        refuse(http::Refusal::ScriptNotFound);
        return;
      case route::RouteKind::StaticFile:
        serve_static_file(request, route);
        return;
      case route::RouteKind::CgiScript:
        run_cgi_script(request, route, rest, rest_size);
        return;
      case route::RouteKind::DevConsole: {
        log::write(LogLevel::Access, "http", log_fields_, "DEVCONSOLE");
        phase_ = Phase::Responding;
        const std::string response = format_devconsole_response(request, context_.http_headers);
        parser_.reset();  // the request is not needed any more
        send_response_bytes(response.data(), response.size());
        end_response();
        return;
      }
      case route::RouteKind::Forbidden:
        log::write(LogLevel::Access, "http", log_fields_, "FORBIDDEN: " + route.message);
        refuse(http::Refusal::Forbidden, route.message, context_.http_headers);
        return;
      case route::RouteKind::MethodNotAllowed:
        refuse(http::Refusal::MethodNotAllowed, route.message, context_.http_headers);
        return;
      case route::RouteKind::Redirect: {
        std::vector<http::Header> headers = context_.http_headers;
        headers.push_back({"Location", route.location});
        respond_and_close(301, http::moved_permanently_body(route.location), headers);
        return;
      }
      case route::RouteKind::BadRequest:
        refuse(http::Refusal::MalformedPath, {}, context_.http_headers);
        return;
      case route::RouteKind::NotFound:
        log::write(LogLevel::Access, "http", log_fields_, "NOT FOUND");
        refuse(http::Refusal::NotFound, {}, context_.http_headers);
        return;
    }
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
  }
}

// ------------------------------------------------------- queue callbacks

void Connection::on_queue_drained(WriteQueue& /*queue*/) noexcept {
  // The socket's queue (the child's stdin queue is its ChildSession's).
  child_.resume_output();
  resume_socket_reading(kOutputFull);
  if (cgi_ && !socket_closed_) cgi_->on_client_drained();
  if (static_file_ && !socket_closed_) {
    // The client took what was queued: it is alive, send more.
    uv_timer_start(&timer_, &Connection::on_timer, kResponseStallTimeoutMs, 0);
    if (!static_file_->pump(context_.read_buffer, sizeof context_.read_buffer)) static_file_.reset();
  }
}

void Connection::on_child_stdin_drained() noexcept { resume_socket_reading(kStdinFull); }

void Connection::on_queue_finished(WriteQueue& /*queue*/) noexcept {
  // Everything (the close frame or an HTTP response) is written: send FIN,
  // then close. The server closes the TCP connection first (RFC 6455 §7.1.1).
  if (socket_closed_) return;
  shutdown_request_.data = this;
  if (uv_shutdown(&shutdown_request_, &socket_.stream, &Connection::on_socket_shutdown) != 0) {
    close_socket();
  }
}

void Connection::on_socket_shutdown(uv_shutdown_t* request, int /*status*/) noexcept {
  static_cast<Connection*>(request->data)->close_socket();
}

void Connection::on_child_stdin_failed(int uv_error) noexcept {
  // The child closed its stdin or exited: later messages have nowhere to go.
  log::write(LogLevel::Debug, "process", log_fields_, std::string("Child's stdin closed: ") + uv_strerror(uv_error));
  resume_socket_reading(kStdinFull);
}

void Connection::on_queue_error(WriteQueue& /*queue*/, int uv_error) noexcept {
  log::write(LogLevel::Debug, "websocket", log_fields_, std::string("Cannot send: ") + uv_strerror(uv_error));
  close_socket();
}

// --------------------------------------------------------------- teardown

void Connection::shut_down_for_server() noexcept {
  if (phase_ == Phase::WebSocket) {
    send_close(ws::close_code::kGoingAway, "server shutting down");
    socket_queue_.finish_then();
    child_.stop();
  } else if (phase_ == Phase::ReadingRequest) {
    close_socket();
  } else if (cgi_) {
    cgi_->shut_down();
  }
}

void Connection::kill_child_now() noexcept {
  if (cgi_) cgi_->kill_now();
  child_.kill_now();
}

void Connection::close_socket() noexcept {
  if (socket_closed_) return;
  socket_closed_ = true;
  uv_read_stop(&socket_.stream);
  uv_close(&socket_.handle, &Connection::on_handle_closed);
  uv_timer_stop(&timer_);
  if (lookup_) {
    // The client left while its name was being looked up: nobody wants it.
    HostNameLookups::cancel(*lookup_->lookup);
    lookup_.reset();
  }
  if (cgi_) cgi_->cancel();
  child_.stop();
  advance_teardown();
}

void Connection::on_child_exited(int wait_status) noexcept {
  context_.release_fork_slot();
  log::write(LogLevel::Info, "process", log_fields_, "Process " + describe_exit(wait_status));
  advance_teardown();
}

void Connection::advance_teardown() noexcept {
  if (!socket_closed_) return;
  if (child_.started()) {
    if (!child_.exited()) return;  // the escalation is on its way
    // The client is gone and the child is reaped: its pipes have nowhere to go.
    child_.close_after_exit();
  }
  if (!timer_closed_) {
    timer_closed_ = true;
    uv_close(as_handle(&timer_), &Connection::on_handle_closed);
  }
  log_disconnect();
}

void Connection::log_disconnect() noexcept {
  if (disconnect_logged_ || !child_.started()) return;
  disconnect_logged_ = true;
  log::write(LogLevel::Access, "session", log_fields_, "DISCONNECT");
}

void Connection::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<Connection*>(handle->data);
  --self->open_handles_;
  self->maybe_destroy();
}

void Connection::on_child_session_closed() noexcept {
  child_closed_ = true;
  maybe_destroy();
}

void Connection::maybe_destroy() noexcept {
  if (open_handles_ > 0 || (child_.started() && !child_closed_) || launch_) return;
  if (prev_) prev_->next_ = next_;
  else context_.first_connection = next_;
  if (next_) next_->prev_ = prev_;
  ServerContext& context = context_;
  --context.connection_count;
  delete this;
  if (context.shutting_down && context.connection_count == 0 && context.on_last_connection_closed) {
    context.on_last_connection_closed(context);
  }
}

}  // namespace wsbridge::net
