// Where an HTTP responder (static file, CGI script) sends its response: the
// client connection, which owns the socket, its write queue and (with
// --ssl) the TLS session. Responders produce while !response_backlogged()
// and are called again when the client has drained (design.md rule 6).
#pragma once
#include <cstddef>

namespace wsbridge::net {

// A client that reads nothing of a response for this long is dropped.
constexpr unsigned kResponseStallTimeoutMs = 30000;

class ResponseSink {
 public:
  // Queues bytes of the response for the client.
  virtual void send_response_bytes(const char* data, std::size_t size) noexcept = 0;
  // True while the client is behind: stop producing until called again.
  virtual bool response_backlogged() const noexcept = 0;
  // The response is complete: flush what is queued, then close.
  virtual void end_response() noexcept = 0;
  // The response cannot be completed (the file could not be read, the
  // script failed after its head was sent): close at once, so the client
  // sees a truncated response rather than a wrong one.
  virtual void abort_response() noexcept = 0;

 protected:
  ~ResponseSink() = default;
};

}  // namespace wsbridge::net
