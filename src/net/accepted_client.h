// One accepted client for its whole life: the root that owns its parts in
// a straight line and frees them together.
//
//   AcceptedClient ─owns→ ClientStream        socket, PROXY, TLS, write queue
//                  ─owns→ HttpExchange        request, route, answers, launch
//                  ─owns→ ProcessProgram      the endpoint's child (after the upgrade)
//                         or RoomMember       its place in a --broadcast room
//                  ─owns→ WebSocketSession    frames, pings, close handshake
//
// The stream hands its bytes to the exchange, and after the upgrade to the
// session; the session talks to the program only through Program. Each
// part that holds handles reports when they are closed; the client unlinks
// itself from the loop's list and is deleted once the stream, the exchange
// (a CGI responder, a launch in flight) and the program (reaped, pipes
// closed) have all reported. Closing is a request, never a delete.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/client_stream.h"
#include "net/http_exchange.h"
#include "net/part_owner.h"
#include "net/process_program.h"
#include "net/room_member.h"
#include "net/server_context.h"
#include "net/websocket_session.h"

namespace wsbridge::net {

class AcceptedClient final : private PartOwner, private HttpExchange::Owner {
 public:
  // Accepts one pending connection from `listener`. Never throws. A
  // redirect-only client (--redirport) is answered with a 301 to the https
  // URL.
  static void accept_from(uv_stream_t* listener, ServerContext& context, bool redirect_only = false) noexcept;

  // Server shutdown: close frame 1001 and the program ended, as for a
  // client that left; a request being read is dropped.
  void shut_down_for_server() noexcept;
  // Last resort when the shutdown deadline passes: SIGKILL every child's
  // process group and reap it, so nothing outlives the server.
  void kill_child_now() noexcept;

  AcceptedClient* next_ = nullptr;  // ServerContext's list of open clients
  AcceptedClient* prev_ = nullptr;

 private:
  AcceptedClient(ServerContext& context, bool redirect_only) noexcept;
  ~AcceptedClient() = default;
  void maybe_destroy() noexcept;

  // PartOwner: the stream's or the program's handles are closed.
  void on_part_closed() noexcept override;
  // HttpExchange::Owner
  bool start_websocket_session(const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns,
                               std::string_view handshake_response, const ws::DeflateParameters* deflate,
                               char* early_bytes, std::size_t early_size) noexcept override;
  bool join_room(Room& room, std::string_view member_id, std::string_view handshake_response,
                 const ws::DeflateParameters* deflate, char* early_bytes, std::size_t early_size) noexcept override;
  void on_exchange_idle() noexcept override;

  ServerContext& context_;
  std::string log_fields_;  // set once the request is read; every part logs with them
  ClientStream stream_;
  HttpExchange exchange_;
  std::unique_ptr<ProcessProgram> program_;
  std::unique_ptr<RoomMember> member_;  // instead of program_ with --broadcast
  std::unique_ptr<WebSocketSession> session_;
  // The stream, and the program once there is one, until each reports its
  // handles closed.
  std::uint8_t open_parts_ = 1;
};

}  // namespace wsbridge::net
