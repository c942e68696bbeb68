// HttpExchange, continued: the WebSocket upgrade. websocketd's checks in its
// order (fork limit, handshake, origin), then --subprotocol's choice, the
// optional reverse lookup, and
// starting the endpoint's program before the 101, so that a command that
// cannot start gets a clear HTTP error instead of a dropped connection.
#include <algorithm>
#include <cerrno>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/http_exchange.h"
#include "net/room_table.h"
#include "wsbridge/ws/deflate_negotiation.h"
#include "proc/spawner.h"
#include "wsbridge/http/response.h"
#include "wsbridge/ws/handshake.h"
#include "wsbridge/ws/subprotocol.h"

namespace wsbridge::net {

using log::LogLevel;

void HttpExchange::start_websocket(const http::Request& request, const route::Route& route, char* rest,
                                   std::size_t rest_size) noexcept {
  const cli::Config& config = *context_.config;
  // websocketd's order: fork limit, then the handshake, then the origin. A
  // client joining a running room starts no program: the room's own limit
  // applies instead.
  if (config.broadcast) {
    if (!choose_room(request, route)) return;
  } else if (refuse_when_out_of_forks(kNoForkLeft)) {
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
  if (!choose_subprotocol(request)) return;
  phase_ = Phase::Upgrading;
  if (context_.host_name_lookups != nullptr) {
    look_up_remote_host(route, rest, rest_size);
    return;
  }
  launch_child(route, {}, rest, rest_size);
}

bool HttpExchange::choose_subprotocol(const http::Request& request) noexcept {
  const std::vector<std::string>& supported = context_.config->subprotocols;
  try {
    ws::SubprotocolChoice choice = ws::choose_subprotocol(supported, request);
    if (choice.outcome == ws::SubprotocolOutcome::Chosen) subprotocol_ = std::move(choice.chosen);
    // Offers but no list (websocketd's way), or no offer at all: the
    // connection goes ahead with no protocol.
    if (choice.outcome != ws::SubprotocolOutcome::NotSupported) return true;
    std::string names;
    for (const std::string& name : supported) names += (names.empty() ? "" : ", ") + name;
    const std::string detail = "no offered subprotocol is supported; supported: " + names;
    log::write(LogLevel::Access, "session", log_fields_,
               "Unable to Upgrade: " + detail + " (offered: " + request.joined_header("Sec-WebSocket-Protocol") + ")");
    refuse(http::Refusal::SubprotocolNotSupported, detail);
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
  }
  return false;
}

void HttpExchange::look_up_remote_host(const route::Route& route, char* rest, std::size_t rest_size) noexcept {
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
  } catch (const std::bad_alloc&) {
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

void HttpExchange::hold_during_lookup(const char* data, std::size_t size) noexcept {
  try {
    lookup_->early_bytes.append(data, size);
  } catch (const std::bad_alloc&) {
    stream_.close();  // out of memory: nothing sensible to answer
    return;
  }
  if (lookup_->early_bytes.size() >= kMaxBytesHeldDuringLookup) {
    stream_.pause_reading(ClientStream::kHeldForProgram);
  }
}

void HttpExchange::on_host_name_found(const std::string& name) noexcept {
  // Only while the client is here: on_stream_closed cancels the lookup.
  std::unique_ptr<PendingLookup> lookup = std::move(lookup_);
  // Reading may have paused at kMaxBytesHeldDuringLookup; launch_child holds
  // it again until the child exists.
  stream_.resume_reading(ClientStream::kHeldForProgram);
  // No name (or a failed lookup): REMOTE_HOST stays the address, as websocketd.
  launch_child(lookup->route, name, lookup->early_bytes.data(), lookup->early_bytes.size());
}

void HttpExchange::launch_child(const route::Route& route, const std::string& remote_host, char* rest,
                                std::size_t rest_size) noexcept {
  if (context_.config->broadcast) {
    if (Room* room = context_.rooms->find(room_key_)) {
      join_room(*room, rest, rest_size);
      return;
    }
    // Another client's launch is starting this room's program: wait for
    // the room rather than start a second program.
    if (context_.rooms->opening(room_key_)) {
      wait_for_room(route, remote_host, rest, rest_size);
      return;
    }
  }
  // --room-broker: the room decides in the cluster whether it runs the
  // program here (and then starts it itself).
  if (context_.broker != nullptr) {
    open_clustered_room(route, remote_host, rest, rest_size);
    return;
  }
  // The fork slot is taken before the child is started off the loop, so
  // --maxforks stays exact while spawns are in flight. Reading is held until
  // the child exists; the bytes that came after the request head wait with
  // the launch.
  auto launch = std::unique_ptr<ChildLaunch>(new (std::nothrow) ChildLaunch);
  try {
    if (!launch) throw std::bad_alloc();
    describe_launch(route, remote_host, launch->path, launch->argv, launch->env);
    launch->early_bytes.assign(rest, rest_size);
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  // Another worker (or the wait for --reverselookup) may have taken the last
  // slot since start_websocket checked: taking it here keeps the limit exact.
  if (!context_.take_fork_slot()) {
    log::write(LogLevel::Error, "http", log_fields_, kNoForkLeft);
    refuse(http::Refusal::ForkLimit);
    return;
  }
  stream_.pause_reading(ClientStream::kHeldForProgram);
  if (context_.config->broadcast) opening_room_ = context_.rooms->begin_opening(room_key_);
  launch->start(stream_.loop(), *context_.spawner, *this, context_.launches);
  launch_ = std::move(launch);
}

void HttpExchange::describe_launch(const route::Route& route, const std::string& remote_host, std::string& path,
                                   std::vector<std::string>& argv, std::vector<std::string>& env) const {
  const http::Request& request = parser_->request();
  bridge::ConnectionFacts facts = connection_facts(request, route);
  if (!remote_host.empty()) facts.remote_host = remote_host;
  env = bridge::build_child_env(request, facts, context_.passenv);
  add_auth_variables(env);
  // A room's program is told which room it serves; the other variables
  // describe the client that opened the room.
  if (context_.config->broadcast) env.push_back("ROOM=" + room_key_);
  if (!subprotocol_.empty()) {
    // The chosen protocol, over a --passenv'd variable of the same name.
    const std::string entry = "WEBSOCKET_PROTOCOL=" + subprotocol_;
    auto same_name = [](const std::string& e) { return e.rfind("WEBSOCKET_PROTOCOL=", 0) == 0; };
    env.erase(std::remove_if(env.begin(), env.end(), same_name), env.end());
    env.push_back(entry);
  }
  if (log::enabled(LogLevel::Debug)) {
    for (const auto& entry : env) {
      log::write(LogLevel::Debug, "process", log_fields_, "Std. variable: " + entry);
    }
  }
  // A --dir script runs with no arguments, as websocketd runs it.
  if (route.kind == route::RouteKind::WebSocketScript) {
    path = route.file_path;
    argv = {route.file_path};
  } else {
    path = context_.command_path;
    argv = context_.command_argv;
  }
}

bool HttpExchange::launch_still_wanted() noexcept {
  // Reading is held during the launch, so the client's leaving is asked of
  // the socket itself.
  return !stream_.closed() && !stream_.peer_has_left();
}

void HttpExchange::on_child_launched() noexcept {
  std::unique_ptr<ChildLaunch> launch = std::move(launch_);
  // Whatever the outcome, the clients waiting for this room look again.
  if (opening_room_) {
    opening_room_ = false;
    context_.rooms->end_opening(room_key_);
  }
  if (stream_.closed() || launch->error == ECANCELED) {
    // The client left (or the server is stopping) before or while the child
    // was starting: it never gets a pipe to the client, so end it, and
    // anything it started, at once. Checked first: nothing can be answered.
    context_.release_fork_slot();
    if (launch->error == 0) proc::discard_child(launch->child);
    if (!stream_.closed()) {
      log::write(LogLevel::Debug, "session", log_fields_, "The client left before its program was started");
      stream_.close();  // reports idle from on_stream_closed
    }
    report_idle_when_done();
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
  hand_over(launch->child, launch->early_bytes.data(), launch->early_bytes.size());
}

bool HttpExchange::make_upgrade_response(std::string& response, ws::DeflateNegotiation& deflate) noexcept {
  const http::Request& request = parser_->request();
  try {
    std::string accept_key = ws::compute_accept_key(*request.find_header("Sec-WebSocket-Key"));
    std::vector<http::Header> headers = context_.upgrade_headers;
    if (context_.deflate.enabled) {
      deflate = ws::negotiate_deflate(request.joined_header("Sec-WebSocket-Extensions"), context_.deflate);
      if (deflate.accepted) headers.push_back({"Sec-WebSocket-Extensions", deflate.response});
    }
    if (!subprotocol_.empty()) headers.push_back({"Sec-WebSocket-Protocol", subprotocol_});
    response = http::format_switching_protocols(accept_key, headers);
  } catch (const std::bad_alloc&) {
    return false;
  }
  return true;
}

void HttpExchange::hand_over(proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept {
  if (context_.config->broadcast) {
    open_room(spawned, rest, rest_size);
    return;
  }
  std::string response;
  ws::DeflateNegotiation deflate;
  const bool ready = make_upgrade_response(response, deflate);
  const ws::DeflateParameters* agreed = deflate.accepted ? &deflate.parameters : nullptr;
  if (!ready ||
      !owner_.start_websocket_session(spawned, request_completed_ns_, response, agreed, rest, rest_size)) {
    // Out of memory: nobody takes the child.
    context_.release_fork_slot();
    proc::discard_child(spawned);
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  parser_.reset();  // the session has what it needs
}

}  // namespace wsbridge::net
