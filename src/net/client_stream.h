// One accepted client's byte stream: the TCP or Unix socket, the PROXY
// header at its start (--proxy-protocol), the TLS session in both
// directions (--ssl), the socket's write queue, pausing reads, the orderly
// close (FIN after the last byte), the peer's address, and one timer that
// belongs to whoever handles the stream now.
//
// It hands plaintext to its current Handler (an HttpExchange, then a
// WebSocketSession after an upgrade) and knows nothing of HTTP or
// WebSocket. Closing is a request: close() marks it, tells the handler once
// (on_stream_closed), and the owner hears from the last close callback
// (PartOwner::on_part_closed) that the stream's memory may go.
#pragma once
#include <uv.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "net/part_owner.h"
#include "net/server_context.h"
#include "net/write_queue.h"
#include "wsbridge/http/proxy_protocol.h"
#include "wsbridge/tls/tls_session.h"

namespace wsbridge::net {

// A client socket: TCP, or a Unix domain socket for proxies on the same host.
// Both start with the uv_stream_t/uv_handle_t fields, so most code uses those.
union SocketHandle {
  uv_handle_t handle;
  uv_stream_t stream;
  uv_tcp_t tcp;
  uv_pipe_t pipe;
};

class ClientStream final : private WriteQueue::Owner {
 public:
  // Whoever consumes the stream now. Every call comes from the loop, never
  // from inside a ClientStream method the handler called.
  class Handler {
   public:
    // Bytes from the client, decrypted when there is TLS.
    virtual void on_stream_data(char* data, std::size_t size) noexcept = 0;
    // The write queue fell to its low-water mark after having been above it.
    virtual void on_stream_drained() noexcept = 0;
    // The client will send nothing more: EOF (or TLS close_notify) as
    // UV_EOF, or the read error. The handler decides what that means: a
    // half-close may still be answered. Reading does not start again.
    virtual void on_stream_input_ended(int uv_status) noexcept = 0;
    // The timer set with start_timer() fired.
    virtual void on_stream_timer() noexcept = 0;
    // close() was called (by anyone): nothing more can be sent. Once.
    virtual void on_stream_closed() noexcept = 0;

   protected:
    ~Handler() = default;
  };

  // Why reading is paused (bits); it resumes when no reason is left.
  static constexpr std::uint8_t kProgramInputFull = 1;  // the program reads slower than the client sends
  static constexpr std::uint8_t kOutputFull = 2;        // the client does not read what it asks for (pongs)
  static constexpr std::uint8_t kHeldForProgram = 4;    // early bytes wait until the program exists

  // `log_fields` is the owner's, read whenever the stream logs.
  ClientStream(ServerContext& context, PartOwner& owner, const std::string& log_fields) noexcept
      : context_(context), owner_(owner), log_fields_(log_fields) {}
  ClientStream(const ClientStream&) = delete;
  ClientStream& operator=(const ClientStream&) = delete;

  // Opens the socket and the timer and accepts the pending connection from
  // `listener`. False when it could not: the stream is closing then (the
  // owner hears on_part_closed as usual). Call once, before set_handler.
  [[nodiscard]] bool accept_from(uv_stream_t* listener, bool with_tls) noexcept;
  // Starts reading; bytes go to `handler` from now on.
  void set_handler(Handler& handler) noexcept { handler_ = &handler; }
  void start_reading() noexcept;

  // --------------------------------------------------------------- output
  // Queues plaintext (encrypted with TLS). False after a failure, which is
  // reported later as a close.
  bool write(const uv_buf_t* bufs, unsigned count) noexcept { return queue_.write(bufs, count); }
  bool write(const char* data, std::size_t size) noexcept { return queue_.write(data, size); }
  // A block other streams send too (a room's frames): queued by reference,
  // except under TLS, where it is encrypted for this stream.
  bool write_shared(const SharedBytes& block) noexcept { return queue_.write_shared(block); }
  bool backlogged() const noexcept { return queue_.over_high_water(); }
  std::size_t queued_bytes() const noexcept { return queue_.pending(); }
  // Sends what is queued (and TLS close_notify), then FIN, then closes.
  void finish_then_close() noexcept { queue_.finish_then(); }
  // The client may still be sending (a request body nobody read): after the
  // FIN, read and drop what comes for up to kLingerTimeMs and kLingerBytes
  // before closing. Closing with unread bytes makes the kernel answer with
  // a reset, which breaks the client's upload and can destroy the response
  // before the client has read it (nginx's lingering close).
  void linger_before_close() noexcept { linger_wanted_ = true; }
  // Two seconds: a client still uploading on a working network keeps
  // sending within it; one that stalls is not worth waiting for (Apache's
  // lingering close waits as long).
  static constexpr std::uint64_t kLingerTimeMs = 2000;
  // 8 MiB: enough for a typical upload a script declined (curl's 5 MB in
  // issue 17) to be taken whole at local speeds; more is the client's
  // problem. The bytes land in the loop's scratch buffer: no memory is held.
  static constexpr std::uint64_t kLingerBytes = 8 * 1024 * 1024;

  // ---------------------------------------------------------------- input
  void pause_reading(std::uint8_t reason) noexcept;
  void resume_reading(std::uint8_t reason) noexcept;
  bool reading_paused() const noexcept { return pause_reasons_ != 0; }

  // ---------------------------------------------------------------- timer
  void start_timer(std::uint64_t timeout_ms, std::uint64_t repeat_ms = 0) noexcept;
  void stop_timer() noexcept;

  // ---------------------------------------------------------------- facts
  // The peer as websocketd reports it: the PROXY header's source, else the
  // socket's peer ("unix-socket" for a Unix socket peer).
  void peer_address(std::string& address, std::string& port) const;
  // The address this connection reached us on, as a URL host ("[::1]"),
  // or "localhost" when it has none.
  std::string local_host() const;
  bool tls() const noexcept { return tls_ != nullptr; }
  // The client has closed its side or reset the connection, asked of the
  // socket itself (reading may be paused, so no EOF was read): a TCP peer's
  // FIN or reset is in the socket's state even behind unread bytes.
  bool peer_has_left() const noexcept;
  uv_loop_t* loop() const noexcept { return socket_.handle.loop; }

  // Closes the socket now (queued bytes are dropped). Idempotent.
  void close() noexcept;
  bool closed() const noexcept { return closed_; }

 private:
  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_timer(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;
  static void on_shutdown(uv_shutdown_t* request, int status) noexcept;
  [[nodiscard]] bool start_tls() noexcept;
  // --proxy-protocol: consumes the header at the start of the connection,
  // advancing data/size past it. False when the stream was closed.
  bool read_proxy_header(char*& data, std::size_t& size) noexcept;
  void on_tls_records(const char* data, std::size_t size) noexcept;
  // After the FIN: close now, or first drain the client's input (linger_before_close).
  void close_or_linger() noexcept;
  void drop_lingering_input(ssize_t nread) noexcept;

  // WriteQueue::Owner
  void on_queue_drained(WriteQueue& queue) noexcept override;
  void on_queue_finished(WriteQueue& queue) noexcept override;
  void on_queue_error(WriteQueue& queue, int uv_error) noexcept override;

  ServerContext& context_;
  PartOwner& owner_;
  const std::string& log_fields_;
  Handler* handler_ = nullptr;
  SocketHandle socket_{};
  uv_timer_t timer_{};
  uv_shutdown_t shutdown_request_{};
  WriteQueue queue_;
  std::unique_ptr<tls::TlsSession> tls_;                   // only with --ssl
  std::unique_ptr<http::ProxyHeaderParser> proxy_header_;  // until the PROXY header is read
  struct ProxiedPeer {
    std::string address, port;
  };
  std::unique_ptr<ProxiedPeer> proxied_peer_;  // the client the PROXY header named
  std::uint8_t open_handles_ = 0;
  std::uint8_t pause_reasons_ = 0;
  bool reading_ = false;
  bool closed_ = false;
  bool input_ignored_ = false;  // after a TLS failure: only the close is left
  bool input_ended_ = false;    // EOF or a read error: nothing more to read
  bool linger_wanted_ = false;  // drain the client's input before closing
  bool lingering_ = false;      // draining it now: nothing goes to the handler
  std::uint64_t lingered_bytes_ = 0;
};

}  // namespace wsbridge::net
