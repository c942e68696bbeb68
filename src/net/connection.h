// One client connection for its whole life: the socket, the HTTP request
// head, then the WebSocket protocol state and one child (a ChildSession,
// which owns its pipes). Data flows in two independent lines, each with its
// own backpressure:
//   socket → MessageReader → child stdin        (paused while stdin is full)
//   child stdout → LineSplitter → frames → socket (paused while socket is full)
// Teardown is a request, not a free (design.md rules 4 and 5): handles are
// closed as their work ends and the object deletes itself in the last close
// callback, after the child has been reaped.
#pragma once
#include <uv.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "net/cgi_responder.h"
#include "net/child_launch.h"
#include "net/child_session.h"
#include "net/host_name_lookups.h"
#include "net/response_sink.h"
#include "net/server_context.h"
#include "net/static_responder.h"
#include "net/write_queue.h"
#include "proc/spawn.h"
#include "wsbridge/bridge/line_splitter.h"
#include "wsbridge/http/refusal.h"
#include "wsbridge/http/request_parser.h"
#include "wsbridge/route/router.h"
#include "wsbridge/http/proxy_protocol.h"
#include "wsbridge/tls/tls_session.h"
#include "wsbridge/ws/message_reader.h"

namespace wsbridge::net {

// A client socket: TCP, or a Unix domain socket for proxies on the same host.
// Both start with the uv_stream_t/uv_handle_t fields, so most code uses those.
union SocketHandle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

class Connection final : private WriteQueue::Owner,
                         private ChildSession::Owner,
                         private ResponseSink,
                         private CgiResponder::Owner,
                         private ChildLaunch::Owner,
                         private HostNameLookups::Owner {
 public:
  // Accepts one pending connection from `listener`. Never throws. A
  // redirect-only connection (--redirport) answers every request with a 301
  // to the https URL.
  static void accept_from(uv_stream_t* listener, ServerContext& context, bool redirect_only = false) noexcept;

  // Server shutdown: close frame 1001, child ended, as for a client that left.
  void shut_down_for_server() noexcept;
  // Last resort when the shutdown deadline passes: SIGKILL the child's
  // process group and reap the child, so nothing outlives the server.
  void kill_child_now() noexcept;

  Connection* next_ = nullptr;  // ServerContext's list of open connections
  Connection* prev_ = nullptr;

 private:
  explicit Connection(ServerContext& context);
  ~Connection();

  // Handshake phase.
  void on_request_bytes(char* data, std::size_t size) noexcept;
  void handle_request(char* rest, std::size_t rest_size) noexcept;
  void start_websocket(const http::Request& request, const route::Route& route, char* rest,
                       std::size_t rest_size) noexcept;
  void look_up_remote_host(const route::Route& route, char* rest, std::size_t rest_size) noexcept;
  void on_host_name_found(const std::string& name) noexcept override;
  // Bytes the client sends while its name is looked up wait with the launch.
  void hold_during_lookup(const char* data, std::size_t size) noexcept;
  // Builds the environment and starts the child off the loop (ChildLaunch).
  // remote_host: the --reverselookup name or "".
  void launch_child(const route::Route& route, const std::string& remote_host, char* rest,
                    std::size_t rest_size) noexcept;
  // The child exists: wrap its pipes, answer 101 and start relaying.
  void start_relay(const proc::SpawnedChild& spawned, char* rest, std::size_t rest_size) noexcept;
  void serve_static_file(const http::Request& request, const route::Route& route) noexcept;
  void run_cgi_script(const http::Request& request, const route::Route& route, char* rest,
                      std::size_t rest_size) noexcept;
  void respond_and_close(int status, std::string_view body,
                         const std::vector<http::Header>& extra_headers = {}) noexcept;
  // respond_and_close with the refusal table's status and body (`detail`
  // in the body, else the table's description), `headers` and the
  // refusal's own header.
  void refuse(http::Refusal refusal, std::string_view detail = {},
              const std::vector<http::Header>& headers = {}) noexcept;
  std::string describe_request(const http::Request& request) const;
  void redirect_to_https(const http::Request& request) noexcept;

  // Bytes from the socket, after TLS when there is TLS.
  void on_plaintext(char* data, std::size_t size) noexcept;
  // --proxy-protocol: consumes the header at the start of the connection,
  // advancing data/size past it. False when the connection was closed.
  bool read_proxy_header(char*& data, std::size_t& size) noexcept;
  // The client's address and port: the PROXY header's, or the socket peer's,
  // then X-Forwarded-For/X-Real-IP when the peer is a --trusted-proxy.
  void remote_endpoint(const http::Request& request, std::string& address, std::string& port) const;
  // What a child's environment says about this connection (WebSocket and CGI).
  bridge::ConnectionFacts connection_facts(const http::Request& request, const route::Route& route) const;
  void on_tls_records(const char* data, std::size_t size) noexcept;

  // WebSocket phase.
  void on_websocket_bytes(char* data, std::size_t size) noexcept;
  void on_ping_tick() noexcept;
  void pause_socket_reading(std::uint8_t reason) noexcept;
  void resume_socket_reading(std::uint8_t reason) noexcept;
  void deliver_to_child(bool binary, std::string_view payload) noexcept;
  void send_frame(ws::Opcode opcode, std::string_view payload) noexcept;
  void send_close(std::uint16_t code, std::string_view reason) noexcept;
  void append_text_frame(std::string& out, std::string_view line, bool from_stderr = false);
  void flush_child_output_tail() noexcept;

  // Teardown.
  void close_socket() noexcept;
  void advance_teardown() noexcept;
  void maybe_destroy() noexcept;
  void log_disconnect() noexcept;

  // libuv callbacks.
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_socket_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;
  static void on_socket_shutdown(uv_shutdown_t* request, int status) noexcept;

  // WriteQueue::Owner
  void on_queue_drained(WriteQueue& queue) noexcept override;
  void on_queue_finished(WriteQueue& queue) noexcept override;
  void on_queue_error(WriteQueue& queue, int uv_error) noexcept override;
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
  // ChildSession::Owner
  void on_child_stdout(char* data, std::size_t size) noexcept override;
  void on_child_stdout_end(int uv_status) noexcept override;
  void on_child_stderr(StderrLines& lines) override;
  void on_child_stdin_drained() noexcept override;
  void on_child_stdin_failed(int uv_error) noexcept override;
  void on_child_exited(int wait_status) noexcept override;
  void on_child_session_closed() noexcept override;

  enum class Phase : std::uint8_t { ReadingRequest, Responding, WebSocket };

  ServerContext& context_;
  SocketHandle socket_{};
  uv_timer_t timer_{};  // request timeout, then close-handshake timeout
  uv_shutdown_t shutdown_request_{};
  WriteQueue socket_queue_;
  std::unique_ptr<http::RequestParser> parser_;  // only until the head is read
  std::unique_ptr<ws::MessageReader> reader_;    // only after the upgrade
  std::unique_ptr<tls::TlsSession> tls_;         // only with --ssl
  std::unique_ptr<http::ProxyHeaderParser> proxy_header_;  // until the PROXY header is read
  struct ProxiedPeer {
    std::string address, port;
  };
  std::unique_ptr<ProxiedPeer> proxied_peer_;  // the client the PROXY header named
  // --reverselookup in flight: what the launch needs once the name is known.
  struct PendingLookup {
    std::shared_ptr<HostNameLookups::Lookup> lookup;  // cancelled if the client leaves first
    route::Route route;
    std::string early_bytes;  // bytes that followed the request head
  };
  // Past this much sent during a lookup, reading pauses until the child exists.
  static constexpr std::size_t kMaxBytesHeldDuringLookup = 64 * 1024;
  std::unique_ptr<PendingLookup> lookup_;
  std::unique_ptr<ChildLaunch> launch_;  // the WebSocket child, while it is being started
  std::unique_ptr<StaticResponder> static_file_;  // while a file's body is being sent
  std::unique_ptr<CgiResponder> cgi_;             // a CGI script, until its handles are closed
  bridge::LineSplitter stdout_lines_{0};
  std::string log_fields_;
  ChildSession child_{context_, *this, log_fields_};  // the WebSocket child, once launched
  std::uint64_t unique_id_ = 0;  // UNIQUE_ID and the log's id:'...'
  std::uint64_t request_completed_ns_ = 0;  // uv_hrtime, for the metrics' launch time
  std::uint64_t messages_in_ = 0;
  std::uint64_t messages_out_ = 0;

  Phase phase_ = Phase::ReadingRequest;
  std::uint8_t open_handles_ = 0;
  bool socket_closed_ = false;
  // Why socket reading is stopped (bits); it resumes when none is left.
  static constexpr std::uint8_t kStdinFull = 1;   // the child reads slower than the client sends
  static constexpr std::uint8_t kOutputFull = 2;  // the client does not read what it asks for (pongs)
  std::uint8_t socket_pause_reasons_ = 0;
  bool close_sent_ = false;
  bool close_received_ = false;
  bool child_closed_ = false;  // the ChildSession reported its handles closed
  bool timer_closed_ = false;
  bool disconnect_logged_ = false;
  bool redirect_only_ = false;
  std::uint8_t silent_ping_intervals_ = 0;  // --pingms intervals with nothing from the peer
};

}  // namespace wsbridge::net
