// The HTTP part of one connection: the request head (and its timeout), the
// route, and the answer: a static file, a CGI script, the dev console, a
// redirect or a refusal (one http::Refusal table). For a WebSocket
// endpoint it checks the upgrade (fork limit, handshake, origin), looks up
// the client's name with --reverselookup, starts the endpoint's program off
// the loop (ChildLaunch) and, once it runs, hands the program, the 101
// response and the bytes read past the request head to its owner, which
// makes the WebSocketSession.
//
// It is the stream's handler until then. It owns a CGI responder's handles
// and a launch in flight, and tells its owner (on_exchange_idle) when
// neither is left after the stream closed.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "net/auth_check.h"
#include "net/cgi_responder.h"
#include "net/child_launch.h"
#include "net/client_slot.h"
#include "net/client_stream.h"
#include "net/host_name_lookups.h"
#include "net/response_sink.h"
#include "net/room.h"
#include "net/server_context.h"
#include "net/static_responder.h"
#include "proc/spawn.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/http/refusal.h"
#include "wsbridge/http/request_parser.h"
#include "wsbridge/route/router.h"
#include "wsbridge/ws/deflate_negotiation.h"
#include "wsbridge/ws/deflate_parameters.h"

namespace wsbridge::net {

class HttpExchange final : public ClientStream::Handler,
                           private ResponseSink,
                           private CgiResponder::Owner,
                           private ChildLaunch::Owner,
                           private HostNameLookups::Owner,
                           private AuthCheck::Owner {
 public:
  class Owner {
   public:
    // The endpoint's program runs: take it, send `handshake_response` and
    // relay. `early_bytes` came after the request head. False when out of
    // memory: the child was not taken.
    // `deflate`: the permessage-deflate agreement, or null for none.
    virtual bool start_websocket_session(const proc::SpawnedChild& spawned, std::uint64_t requested_at_ns,
                                         std::string_view handshake_response,
                                         const ws::DeflateParameters* deflate, char* early_bytes,
                                         std::size_t early_size) noexcept = 0;
    // --broadcast: join `room` (its program runs) as `member_id` (the
    // connection's id), send `handshake_response` and relay. False when out
    // of memory.
    virtual bool join_room(Room& room, std::string_view member_id, std::string_view handshake_response,
                           const ws::DeflateParameters* deflate, char* early_bytes,
                           std::size_t early_size) noexcept = 0;
    // The stream is closed and no CGI responder or launch is left.
    virtual void on_exchange_idle() noexcept = 0;

   protected:
    ~Owner() = default;
  };

  // `log_fields` is the owner's; the exchange fills it in from the request.
  HttpExchange(ServerContext& context, ClientStream& stream, Owner& owner, std::string& log_fields,
               bool redirect_only) noexcept;
  HttpExchange(const HttpExchange&) = delete;
  HttpExchange& operator=(const HttpExchange&) = delete;

  // Starts waiting for the request head. False when out of memory (the
  // stream is closed then).
  [[nodiscard]] bool start() noexcept;
  // A CGI responder's or an auth check's handles, or a launch in flight:
  // the owner must wait.
  bool busy() const noexcept {
    return (cgi_ != nullptr && !cgi_closed_) || (auth_ != nullptr && !auth_closed_) || launch_ != nullptr;
  }
  // Server shutdown: a request being read is dropped, a CGI script ended.
  void shut_down_for_server() noexcept;
  // Server shutdown deadline: SIGKILL a CGI script's group and reap it.
  void kill_child_now() noexcept;

  // ClientStream::Handler
  void on_stream_data(char* data, std::size_t size) noexcept override;
  void on_stream_drained() noexcept override;
  void on_stream_input_ended(int uv_status) noexcept override;
  void on_stream_timer() noexcept override;
  void on_stream_closed() noexcept override;

 private:
  enum class Phase : std::uint8_t { ReadingRequest, Authorizing, Responding, Upgrading };
  static constexpr const char* kNoForkLeft = "Max of possible forks already active, upgrade rejected";

  // The request (http_exchange.cpp).
  void on_request_bytes(char* data, std::size_t size) noexcept;
  void handle_request(char* rest, std::size_t rest_size) noexcept;
  void describe_in_log(const http::Request& request);
  void answer(const http::Request& request, const route::Route& route, char* rest, std::size_t rest_size);
  void answer_with_console(const http::Request& request) noexcept;
  void redirect_to_https(const http::Request& request) noexcept;
  void serve_static_file(const http::Request& request, const route::Route& route) noexcept;
  void run_cgi_script(const http::Request& request, const route::Route& route, char* rest,
                      std::size_t rest_size) noexcept;
  [[nodiscard]] bool refuse_when_out_of_forks(const char* log_text) noexcept;
  void respond_and_close(int status, std::string_view body,
                         const std::vector<http::Header>& extra_headers = {}) noexcept;
  // respond_and_close with the refusal table's status and body (`detail`
  // in the body, else the table's description), `headers` and the
  // refusal's own header.
  void refuse(http::Refusal refusal, std::string_view detail = {},
              const std::vector<http::Header>& headers = {}) noexcept;
  // The client's address and port: the stream's peer, then
  // X-Forwarded-For/X-Real-IP when the peer is a --trusted-proxy.
  void remote_endpoint(const http::Request& request, std::string& address, std::string& port) const;
  // What a child's environment says about this connection (WebSocket and CGI).
  bridge::ConnectionFacts connection_facts(const http::Request& request, const route::Route& route) const;
  void report_idle_when_done() noexcept;
  // Counts request body bytes as they arrive; a response that ends with
  // some still due asks the stream for a lingering close.
  void note_body_bytes(std::size_t size) noexcept;
  void linger_for_unread_body() noexcept;

  // Who may be answered (http_exchange_admission.cpp): the per-client
  // limits, then --auth. admit_client is false when it refused.
  [[nodiscard]] bool admit_client();
  void ask_auth_program(const http::Request& request, route::Route route, char* rest, std::size_t rest_size);
  std::vector<std::string> auth_environment(const http::Request& request, const route::Route& route) const;
  // The --auth program's variables, over the same names in `env`.
  void add_auth_variables(std::vector<std::string>& env) const;
  void send_auth_refusal(bridge::AuthVerdict& verdict) noexcept;
  // AuthCheck::Owner
  void on_auth_decided(bridge::AuthVerdict& verdict) noexcept override;
  void on_auth_closed() noexcept override;

  // The upgrade (http_exchange_upgrade.cpp).
  void start_websocket(const http::Request& request, const route::Route& route, char* rest,
                       std::size_t rest_size) noexcept;
  void look_up_remote_host(const route::Route& route, char* rest, std::size_t rest_size) noexcept;
  void hold_during_lookup(const char* data, std::size_t size) noexcept;
  // Builds the environment and starts the child off the loop (ChildLaunch).
  // remote_host: the --reverselookup name or "".
  void launch_child(const route::Route& route, const std::string& remote_host, char* rest,
                    std::size_t rest_size) noexcept;
  void hand_over(proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept;
  // The 101 response (with the permessage-deflate agreement); false when
  // out of memory.
  [[nodiscard]] bool make_upgrade_response(std::string& response, ws::DeflateNegotiation& deflate) noexcept;
  // --broadcast: the room of this request's path (room_key_) is chosen
  // before the handshake checks (false: refused), opened with the spawned
  // child unless another client opened it meanwhile (possible only when
  // the table could not note the opening), and joined.
  [[nodiscard]] bool choose_room(const http::Request& request, const route::Route& route) noexcept;
  [[nodiscard]] bool refuse_when_room_full(const Room& room) noexcept;
  void open_room(proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept;
  void join_room(Room& room, char* rest, std::size_t rest_size) noexcept;
  // --room-broker: a new room of this instance for room_key_, joined at
  // once; it claims the room in the cluster and, owning it, starts the
  // program this client's launch would start.
  void open_clustered_room(const route::Route& route, const std::string& remote_host, char* rest,
                           std::size_t rest_size) noexcept;
  // What this client's program runs: path, argv and environment (may throw
  // std::bad_alloc).
  void describe_launch(const route::Route& route, const std::string& remote_host, std::string& path,
                       std::vector<std::string>& argv, std::vector<std::string>& env) const;
  // Another client's launch is opening this room: hold this client until
  // the room can be joined (or, if that launch failed, launch its own).
  void wait_for_room(const route::Route& route, const std::string& remote_host, char* rest,
                     std::size_t rest_size) noexcept;
  void on_room_wait_tick() noexcept;
  // --subprotocol: picks the protocol into subprotocol_; false when the
  // request was refused (an offer with nothing supported).
  [[nodiscard]] bool choose_subprotocol(const http::Request& request) noexcept;

  // ResponseSink (static files, CGI output)
  void send_response_bytes(const char* data, std::size_t size) noexcept override;
  bool response_backlogged() const noexcept override;
  void end_response() noexcept override;
  void abort_response() noexcept override;
  // CgiResponder::Owner
  void on_cgi_closed() noexcept override;
  void pause_request_body() noexcept override;
  void resume_request_body() noexcept override;
  // ChildLaunch::Owner
  void on_child_launched() noexcept override;
  bool launch_still_wanted() noexcept override;
  // HostNameLookups::Owner
  void on_host_name_found(const std::string& name) noexcept override;

  ServerContext& context_;
  ClientStream& stream_;
  Owner& owner_;
  std::string& log_fields_;
  std::unique_ptr<http::RequestParser> parser_;  // only until the answer is chosen
  // --reverselookup in flight: what the launch needs once the name is known.
  struct PendingLookup {
    std::shared_ptr<HostNameLookups::Lookup> lookup;  // cancelled if the client leaves first
    route::Route route;
    std::string early_bytes;  // bytes that followed the request head
  };
  // Past this much sent during a lookup, reading pauses until the child exists.
  static constexpr std::size_t kMaxBytesHeldDuringLookup = 64 * 1024;
  std::unique_ptr<PendingLookup> lookup_;
  std::unique_ptr<ChildLaunch> launch_;           // the endpoint's program, while it is being started
  std::unique_ptr<StaticResponder> static_file_;  // while a file's body is being sent
  std::unique_ptr<CgiResponder> cgi_;             // a CGI script, until its handles are closed
  ClientSlot client_slot_;                        // --maxconn-per-client, while the connection lives
  std::unique_ptr<AuthCheck> auth_;               // --auth's program, until its handles are closed
  // While --auth decides: what the answer needs afterwards.
  struct PendingAnswer {
    route::Route route;
    std::string early_bytes;  // bytes that followed the request head
  };
  std::unique_ptr<PendingAnswer> pending_;
  std::vector<std::pair<std::string, std::string>> auth_variables_;  // REMOTE_USER=, AUTH_*=
  std::string room_key_;                          // --broadcast: this request's room
  struct RoomWait {
    route::Route route;
    std::string remote_host;
    std::string early_bytes;  // what came after the request head
    unsigned ticks = 0;
  };
  std::unique_ptr<RoomWait> room_wait_;  // waiting for another client's launch to open the room
  bool opening_room_ = false;            // this client's launch is opening room_key_
  std::string subprotocol_;  // the --subprotocol answered, or empty
  std::uint64_t unique_id_ = 0;                   // UNIQUE_ID and the log's id:'...'
  std::uint64_t request_completed_ns_ = 0;        // uv_hrtime, for the metrics' launch time
  std::uint64_t body_unread_ = 0;  // request body bytes announced and not yet received (max: unknown)
  Phase phase_ = Phase::ReadingRequest;
  bool redirect_only_ = false;
  bool cgi_closed_ = false;  // the responder reported its handles closed
  bool auth_closed_ = false;  // the auth check reported its handles closed
  bool idle_reported_ = false;
};

}  // namespace wsbridge::net
