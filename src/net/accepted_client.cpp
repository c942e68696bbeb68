#include "net/accepted_client.h"

#include <unistd.h>

#include <new>

#include "log/logger.h"

namespace wsbridge::net {

AcceptedClient::AcceptedClient(ServerContext& context, bool redirect_only) noexcept
    : context_(context),
      stream_(context, *this, log_fields_),
      exchange_(context, stream_, *this, log_fields_, redirect_only) {}

void AcceptedClient::accept_from(uv_stream_t* listener, ServerContext& context, bool redirect_only) noexcept {
  auto* client = new (std::nothrow) AcceptedClient(context, redirect_only);
  if (client == nullptr) {
    // libuv has accepted the socket and holds it until uv_accept takes it,
    // not watching the listener meanwhile: a connection we cannot afford
    // would stall every later one. Drop it (the client sees a reset) through
    // the private field libuv keeps it in (uv_stream_t's accepted_fd; libuv
    // 1.44), and libuv goes on accepting.
    log::write(log::LogLevel::Error, "server", "", "Out of memory: a new connection was dropped");
    if (listener->accepted_fd >= 0) ::close(listener->accepted_fd);
    listener->accepted_fd = -1;
    return;
  }
  // Link first, so every exit path below goes through the normal teardown.
  client->next_ = context.first_client;
  if (context.first_client) context.first_client->prev_ = client;
  context.first_client = client;
  ++context.connection_count;

  client->stream_.set_handler(client->exchange_);
  const bool with_tls = context.tls_context != nullptr && !redirect_only;
  if (!client->stream_.accept_from(listener, with_tls)) return;
  (void)client->exchange_.start();  // on failure the stream is closing
}

bool AcceptedClient::start_websocket_session(const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns,
                                             std::string_view handshake_response,
                                             const ws::DeflateParameters* deflate, char* early_bytes,
                                             std::size_t early_size) noexcept {
  program_.reset(new (std::nothrow) ProcessProgram(context_, *this, log_fields_));
  if (!program_) return false;
  session_.reset(new (std::nothrow) WebSocketSession(context_, stream_, *program_, log_fields_));
  if (!session_) {
    program_.reset();
    return false;
  }
  ++open_parts_;  // the program's pipes, until it reports them closed
  program_->start(stream_.loop(), spawned, requested_at_ns);
  try {
    log::append_field(log_fields_, "pid", std::to_string(spawned.pid));
  } catch (const std::bad_alloc&) {
    // The log lines go without the pid.
  }
  stream_.set_handler(*session_);
  session_->start(handshake_response, deflate, early_bytes, early_size);
  return true;
}

bool AcceptedClient::join_room(Room& room, std::string_view member_id, std::string_view handshake_response,
                               const ws::DeflateParameters* deflate, char* early_bytes,
                               std::size_t early_size) noexcept {
  // The member holds no handle: the room owns the program and its pipes.
  try {
    member_ = std::make_unique<RoomMember>(room, std::string(member_id));
  } catch (const std::bad_alloc&) {
    return false;
  }
  session_.reset(new (std::nothrow) WebSocketSession(context_, stream_, *member_, log_fields_));
  if (!session_) {
    member_.reset();
    return false;
  }
  try {
    log::append_field(log_fields_, "room", room.key());
  } catch (const std::bad_alloc&) {
    // The log lines go without the room.
  }
  stream_.set_handler(*session_);
  session_->start(handshake_response, deflate, early_bytes, early_size);
  return true;
}

void AcceptedClient::shut_down_for_server() noexcept {
  if (session_) {
    session_->shut_down_for_server();
  } else {
    exchange_.shut_down_for_server();
  }
}

void AcceptedClient::kill_child_now() noexcept {
  exchange_.kill_child_now();
  if (program_) program_->kill_now();
}

void AcceptedClient::on_part_closed() noexcept {
  --open_parts_;
  maybe_destroy();
}

void AcceptedClient::on_exchange_idle() noexcept { maybe_destroy(); }

void AcceptedClient::maybe_destroy() noexcept {
  if (open_parts_ > 0 || exchange_.busy()) return;
  if (prev_) prev_->next_ = next_;
  else context_.first_client = next_;
  if (next_) next_->prev_ = prev_;
  ServerContext& context = context_;
  --context.connection_count;
  delete this;
  if (context.shutting_down && context.connection_count == 0 && context.on_last_connection_closed) {
    context.on_last_connection_closed(context);
  }
}

}  // namespace wsbridge::net
