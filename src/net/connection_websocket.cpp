// Connection, continued: the WebSocket half. The upgrade (fork limit,
// handshake, origin, optional reverse lookup, spawning the child) and the
// two relay directions, each with its own backpressure:
//   socket -> MessageReader -> child stdin
//   child stdout (and stderr with --passstderr) -> lines -> frames -> socket
// The socket, the dispatch and the teardown are in connection.cpp.
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/connection.h"
#include "net/uv_cast.h"
#include "proc/spawn.h"
#include "proc/spawner.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/bridge/tagged_output.h"
#include "wsbridge/bridge/utf8_sanitizer.h"
#include "wsbridge/http/response.h"
#include "wsbridge/ws/frame_encoder.h"
#include "wsbridge/ws/handshake.h"

namespace wsbridge::net {

using log::LogLevel;
// Slots of the per-direction metrics.
constexpr auto kToProgram = static_cast<std::size_t>(metrics::Direction::ToProgram);
constexpr auto kToClient = static_cast<std::size_t>(metrics::Direction::ToClient);

// ------------------------------------------------------------- the upgrade

void Connection::start_websocket(const http::Request& request, const route::Route& route, char* rest,
                                 std::size_t rest_size) noexcept {
  const cli::Config& config = *context_.config;
  // websocketd's order: fork limit, then the handshake, then the origin.
  if (context_.fork_limit_reached()) {
    log::write(LogLevel::Error, "http", log_fields_, "Max of possible forks already active, upgrade rejected");
    refuse(http::Refusal::ForkLimit);
    return;
  }
  ws::HandshakeError handshake_error = ws::check_handshake(request);
  if (handshake_error != ws::HandshakeError::None) {
    log::write(LogLevel::Access, "session", log_fields_,
               std::string("Unable to Upgrade: ") + ws::describe(handshake_error));
    refuse(ws::refusal_for(handshake_error), ws::describe(handshake_error));
    return;
  }
  const std::string* origin = request.find_header("Origin");
  log::append_field(log_fields_, "origin", origin && !origin->empty() ? *origin : "file:");
  const std::string* host = request.find_header("Host");
  bridge::OriginVerdict verdict =
      bridge::check_origin(context_.origin_policy, origin, host ? *host : "", config.ssl);
  if (verdict != bridge::OriginVerdict::Allowed) {
    log::write(LogLevel::Access, "session", log_fields_, bridge::describe(verdict));
    refuse(http::Refusal::OriginNotAllowed, bridge::describe(verdict));
    return;
  }
  if (context_.host_name_lookups != nullptr) {
    look_up_remote_host(route, rest, rest_size);
    return;
  }
  launch_child(route, {}, rest, rest_size);
}

void Connection::look_up_remote_host(const route::Route& route, char* rest, std::size_t rest_size) noexcept {
  // The lookup must not block the loop, nor the thread pool that starts
  // children (net/host_name_lookups.h). The bytes that came after the
  // request head are kept until the child exists, and so is what comes
  // meanwhile: the socket is still read, so that a client who leaves is seen
  // at once (its lookup dropped, no child started) and not after the
  // resolver's timeout.
  auto lookup = std::unique_ptr<PendingLookup>(new (std::nothrow) PendingLookup);
  if (!lookup) {
    launch_child(route, {}, rest, rest_size);
    return;
  }
  try {
    lookup->route = route;
    lookup->early_bytes.assign(rest, rest_size);
  } catch (...) {
    launch_child(route, {}, rest, rest_size);
    return;
  }
  // The name of REMOTE_ADDR: the client a PROXY header or a trusted proxy
  // names, not the proxy. (A Unix socket peer has no address to look up.)
  std::string address, port;
  remote_endpoint(parser_->request(), address, port);
  sockaddr_storage peer{};
  if (uv_ip4_addr(address.c_str(), 0, reinterpret_cast<sockaddr_in*>(&peer)) != 0 &&
      uv_ip6_addr(address.c_str(), 0, reinterpret_cast<sockaddr_in6*>(&peer)) != 0) {
    launch_child(route, {}, rest, rest_size);
    return;
  }
  const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
  if (peer.ss_family == AF_INET6 && IN6_IS_ADDR_V4MAPPED(&in6.sin6_addr)) {
    // ::ffff:a.b.c.d (from a PROXY TCP6 header, say) is an IPv4 client, and
    // only as one does it match /etc/hosts and in-addr.arpa.
    sockaddr_in in4{};
    in4.sin_family = AF_INET;
    std::memcpy(&in4.sin_addr, &in6.sin6_addr.s6_addr[12], sizeof in4.sin_addr);
    peer = sockaddr_storage{};
    std::memcpy(&peer, &in4, sizeof in4);
  }
  lookup->lookup = context_.host_name_lookups->start(peer, *this);
  if (!lookup->lookup) {
    launch_child(route, {}, rest, rest_size);
    return;
  }
  lookup_ = std::move(lookup);
}

void Connection::hold_during_lookup(const char* data, std::size_t size) noexcept {
  try {
    lookup_->early_bytes.append(data, size);
  } catch (...) {
    close_socket();  // out of memory: nothing sensible to answer
    return;
  }
  if (lookup_->early_bytes.size() >= kMaxBytesHeldDuringLookup) uv_read_stop(&socket_.stream);
}

void Connection::on_host_name_found(const std::string& name) noexcept {
  // Only while the client is here: close_socket() cancels the lookup.
  std::unique_ptr<PendingLookup> lookup = std::move(lookup_);
  // Reading may have paused at kMaxBytesHeldDuringLookup (already reading: a
  // harmless UV_EALREADY); launch_child pauses it again until the child exists.
  uv_read_start(&socket_.stream, &Connection::on_alloc, &Connection::on_socket_read);
  // No name (or a failed lookup): REMOTE_HOST stays the address, as websocketd.
  launch_child(lookup->route, name, lookup->early_bytes.data(), lookup->early_bytes.size());
}

void Connection::launch_child(const route::Route& route, const std::string& remote_host, char* rest,
                              std::size_t rest_size) noexcept {
  const http::Request& request = parser_->request();
  // Spawn before answering 101, so a command that cannot start gets a clear
  // HTTP error instead of websocketd's 101 followed by a dropped connection.
  bridge::ConnectionFacts facts = connection_facts(request, route);
  if (!remote_host.empty()) facts.remote_host = remote_host;
  std::vector<std::string> env = bridge::build_child_env(request, facts, context_.passenv);
  if (log::enabled(LogLevel::Debug)) {
    for (const auto& entry : env) log::write(LogLevel::Debug, "process", log_fields_, "Std. variable: " + entry);
  }

  // The fork slot is taken before the child is started off the loop, so
  // --maxforks stays exact while spawns are in flight. Reading pauses until
  // the child exists; the bytes that came after the request head wait with
  // the launch.
  auto launch = std::unique_ptr<ChildLaunch>(new (std::nothrow) ChildLaunch);
  try {
    if (!launch) throw std::bad_alloc();
    // A --dir script runs with no arguments, as websocketd runs it.
    if (route.kind == route::RouteKind::WebSocketScript) {
      launch->path = route.file_path;
      launch->argv = {route.file_path};
    } else {
      launch->path = context_.command_path;
      launch->argv = context_.command_argv;
    }
    launch->env = std::move(env);
    launch->early_bytes.assign(rest, rest_size);
  } catch (...) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  // Another worker (or the wait for --reverselookup) may have taken the last
  // slot since start_websocket checked: taking it here keeps the limit exact.
  if (!context_.take_fork_slot()) {
    log::write(LogLevel::Error, "http", log_fields_, "Max of possible forks already active, upgrade rejected");
    refuse(http::Refusal::ForkLimit);
    return;
  }
  uv_read_stop(&socket_.stream);
  launch->start(socket_.handle.loop, *context_.spawner, *this);
  launch_ = std::move(launch);
}

void Connection::on_child_launched() noexcept {
  std::unique_ptr<ChildLaunch> launch = std::move(launch_);
  if (socket_closed_) {
    // The client left (or the server is stopping) while the child was
    // starting: it never gets a pipe to the client, so end it, and anything
    // it started, at once. Checked first: nothing can be answered now.
    context_.release_fork_slot();
    if (launch->error == 0) proc::discard_child(launch->child);
    maybe_destroy();
    return;
  }
  if (launch->error != 0) {
    context_.release_fork_slot();
    log::write(LogLevel::Error, "process", log_fields_,
               "Could not launch process " + launch->path + " (" + std::strerror(launch->error) + ")");
    refuse(http::refusal_for_launch_error(launch->error),
           std::string("could not launch the command (") + std::strerror(launch->error) + ")");
    return;
  }
  start_relay(launch->child, launch->early_bytes.data(), launch->early_bytes.size());
}

void Connection::start_relay(const proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept {
  const cli::Config& config = *context_.config;
  const http::Request& request = parser_->request();
  uv_loop_t* loop = socket_.handle.loop;
  child_.start(loop, spawned, request_completed_ns_);
  log::append_field(log_fields_, "pid", std::to_string(spawned.pid));

  std::string accept_key = ws::compute_accept_key(*request.find_header("Sec-WebSocket-Key"));
  std::string response = http::format_switching_protocols(accept_key, context_.upgrade_headers);
  socket_queue_.write(response.data(), response.size());
  log::write(LogLevel::Access, "session", log_fields_, "CONNECT");

  phase_ = Phase::WebSocket;
  parser_.reset();
  reader_ = std::unique_ptr<ws::MessageReader>(new (std::nothrow) ws::MessageReader(config.max_message));
  if (!reader_) {
    // Socket reading stays stopped (since the spawn): nothing can reach a
    // missing reader. Close, and let the child go.
    send_close(ws::close_code::kInternalError, "out of memory");
    socket_queue_.finish_then();
    child_.stop();
    return;
  }
  uv_read_start(&socket_.stream, &Connection::on_alloc, &Connection::on_socket_read);
  if (config.pingms != 0) uv_timer_start(&timer_, &Connection::on_timer, config.pingms, config.pingms);
  child_.start_reading();
  // Bytes that came right after the request head are the first frames.
  if (rest_size > 0) on_websocket_bytes(rest, rest_size);
}

// ------------------------------------------------- client → child (stdin)

void Connection::on_websocket_bytes(char* data, std::size_t size) noexcept {
  silent_ping_intervals_ = 0;  // any byte from the peer shows it is alive
  // Every message of this read reaches the child in one write.
  WriteQueue::Cork cork = child_.cork_stdin();
  auto* bytes = reinterpret_cast<std::uint8_t*>(data);
  // Drain events until NeedMore even when no bytes are left: the reader frees
  // a large message's buffer only on the call after it handed the message
  // out, and an idle connection must not keep it.
  while (!socket_closed_) {
    std::size_t consumed = 0;
    ws::MessageReader::Event event;
    try {
      event = reader_->next(bytes, size, consumed);
    } catch (const std::bad_alloc&) {
      send_close(ws::close_code::kInternalError, "out of memory");
      socket_queue_.finish_then();
      child_.stop();
      return;
    }
    bytes += consumed;
    size -= consumed;
    switch (event.kind) {
      case ws::MessageReader::EventKind::NeedMore:
        return;
      case ws::MessageReader::EventKind::Message:
        ++messages_in_;
        if (!close_sent_) deliver_to_child(event.binary, event.payload);
        break;
      case ws::MessageReader::EventKind::Ping:
        if (!close_sent_) {
          send_frame(ws::Opcode::Pong, event.payload);
          // A client that pings but never reads its pongs must not grow our
          // queue: stop reading it until it catches up.
          if (socket_queue_.over_high_water()) pause_socket_reading(kOutputFull);
        }
        break;
      case ws::MessageReader::EventKind::Pong:
        break;
      case ws::MessageReader::EventKind::Close:
        close_received_ = true;
        ++context_.metrics.close_codes_received[metrics::close_code_slot(event.close_code)];
        log::write(LogLevel::Debug, "websocket", log_fields_,
                   "Client closed with code " + std::to_string(event.close_code));
        // Echo the client's code (RFC 6455 §5.5.1); a close without a code
        // is answered without one.
        send_close(event.close_code, {});
        // The server closes TCP first (§7.1.1) once the close is written.
        socket_queue_.finish_then();
        child_.stop();
        return;
      case ws::MessageReader::EventKind::Error:
        log::write(LogLevel::Access, "websocket", log_fields_,
                   std::string("Protocol error: ") + ws::describe(event.error));
        send_close(ws::close_code_for(event.error), ws::describe(event.error));
        close_received_ = true;  // nothing more will be read
        socket_queue_.finish_then();
        child_.stop();
        return;
    }
  }
}

void Connection::deliver_to_child(bool binary, std::string_view payload) noexcept {
  if (!child_.accepts_stdin()) return;  // the child no longer reads
  // websocketd's mapping: a text message is a line (payload + "\n"); a binary
  // message is written as it is, in both modes.
  static char newline = '\n';
  uv_buf_t bufs[2] = {make_buf(payload.data(), payload.size()), make_buf(&newline, 1)};
  child_.write_stdin(bufs, binary ? 1 : 2);
  ++context_.metrics.messages[kToProgram];
  context_.metrics.bytes[kToProgram] += payload.size();
  // The child reads slower than the client sends: stop reading the socket
  // so TCP flow control pushes back on the client.
  if (child_.stdin_full()) pause_socket_reading(kStdinFull);
}

void Connection::pause_socket_reading(std::uint8_t reason) noexcept {
  if (socket_closed_) return;
  if (socket_pause_reasons_ == 0) uv_read_stop(&socket_.stream);
  if (reason == kStdinFull && (socket_pause_reasons_ & kStdinFull) == 0) {
    ++context_.metrics.backpressure_pauses[kToProgram];
  }
  socket_pause_reasons_ |= reason;
}

void Connection::resume_socket_reading(std::uint8_t reason) noexcept {
  if ((socket_pause_reasons_ & reason) == 0) return;
  socket_pause_reasons_ &= static_cast<std::uint8_t>(~reason);
  if (socket_pause_reasons_ == 0 && !socket_closed_) {
    uv_read_start(&socket_.stream, &Connection::on_alloc, &Connection::on_socket_read);
  }
}

// ------------------------------------------------- child → client (stdout)

void Connection::send_frame(ws::Opcode opcode, std::string_view payload) noexcept {
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  std::size_t header_size = ws::encode_frame_header(header, opcode, true, payload.size());
  uv_buf_t bufs[2] = {make_buf(reinterpret_cast<char*>(header), header_size),
                      make_buf(payload.data(), payload.size())};
  socket_queue_.write(bufs, 2);
}

void Connection::send_close(std::uint16_t code, std::string_view reason) noexcept {
  if (close_sent_ || socket_closed_) return;
  close_sent_ = true;
  ++context_.metrics.close_codes_sent[metrics::close_code_slot(code)];
  try {
    // 1005 means "the peer's close had no code": answered with none.
    std::string payload = code == ws::close_code::kNoStatus ? std::string() : ws::encode_close_payload(code, reason);
    send_frame(ws::Opcode::Close, payload);
  } catch (...) {
  }
  // Wait a bounded time for the client's close frame.
  uv_timer_start(&timer_, &Connection::on_timer, kCloseHandshakeTimeoutMs, 0);
}

void Connection::append_text_frame(std::string& out, std::string_view line, bool from_stderr) {
  std::string tagged;
  if (context_.config->passstderr) {
    // --passstderr: both streams go out as JSON, escaped (and made valid UTF-8) there.
    tagged = bridge::tag_output_line(from_stderr, line);
    line = tagged;
  } else {
    line = bridge::sanitize_utf8(line, context_.utf8_scratch);
  }
  std::uint8_t header[ws::kMaxServerFrameHeaderSize];
  std::size_t header_size = ws::encode_frame_header(header, ws::Opcode::Text, true, line.size());
  out.append(reinterpret_cast<char*>(header), header_size);
  out.append(line);
  ++messages_out_;
  ++context_.metrics.messages[kToClient];
  context_.metrics.bytes[kToClient] += line.size();
}

void Connection::on_child_stdout(char* data, std::size_t size) noexcept {
  if (close_sent_ || socket_closed_) return;  // nowhere to send it: drain and drop
  if (context_.config->binary) {
    // Binary mode: each read is one binary message (websocketd's boundaries).
    send_frame(ws::Opcode::Binary, {data, size});
    ++messages_out_;
    ++context_.metrics.messages[kToClient];
    context_.metrics.bytes[kToClient] += size;
  } else {
    // All the lines of one read go out in one write.
    std::string& out = context_.frame_scratch;
    out.clear();
    try {
      std::string_view input(data, size);
      while (auto line = stdout_lines_.next_line(input)) append_text_frame(out, *line);
    } catch (const std::bad_alloc&) {
      send_close(ws::close_code::kInternalError, "out of memory");
      child_.stop();
      return;
    }
    if (!out.empty()) socket_queue_.write(out.data(), out.size());
    if (out.capacity() > 1024 * 1024) std::string().swap(out);
  }
  // The client reads slower than the child writes: stop reading stdout so
  // the pipe fills and the child blocks, instead of buffering here.
  if (socket_queue_.over_high_water()) child_.pause_stdout();
}

void Connection::flush_child_output_tail() noexcept {
  if (close_sent_ || socket_closed_ || context_.config->binary) return;
  try {
    // websocketd drops an unterminated last line; we deliver it.
    if (auto tail = stdout_lines_.finish()) {
      std::string& out = context_.frame_scratch;
      out.clear();
      append_text_frame(out, *tail);
      socket_queue_.write(out.data(), out.size());
    }
  } catch (...) {
  }
}

void Connection::on_child_stdout_end(int uv_status) noexcept {
  // The child will write no more: deliver the rest, then close normally.
  if (uv_status != UV_EOF) {
    log::write(LogLevel::Error, "process", log_fields_,
               std::string("Unexpected error while reading STDOUT from process: ") + uv_strerror(uv_status));
  }
  flush_child_output_tail();
  send_close(ws::close_code::kNormal, {});
  child_.stop();
  advance_teardown();
}

void Connection::on_child_stderr(StderrLines& lines) {
  // ChildSession logs each stderr line, as websocketd does. Without
  // --passstderr that is all: reading never stops, so a chatty child cannot
  // block on a full pipe. With --passstderr the lines are sent too, and
  // then stderr waits, like stdout, while the client is behind.
  if (!context_.config->passstderr || close_sent_ || socket_closed_) return;
  std::string& out = context_.frame_scratch;
  out.clear();
  while (auto line = lines.next()) append_text_frame(out, *line, true);
  if (!out.empty()) socket_queue_.write(out.data(), out.size());
  if (socket_queue_.over_high_water()) child_.pause_stderr();
}

}  // namespace wsbridge::net
