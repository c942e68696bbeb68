// One TLS connection on memory buffers: ciphertext in from the socket,
// plaintext out to the HTTP/WebSocket code, and back. No I/O of its own, so
// it works with any event loop and can be tested (and fuzzed) in memory.
#pragma once
#include <cstddef>
#include <string>

typedef struct ssl_st SSL;
typedef struct ssl_ctx_st SSL_CTX;
typedef struct bio_st BIO;

namespace wsbridge::tls {

class TlsSession {
 public:
  // server: accept side (true) or connect side (false, for tests).
  explicit TlsSession(SSL_CTX* ctx, bool server = true);
  ~TlsSession();
  TlsSession(const TlsSession&) = delete;
  TlsSession& operator=(const TlsSession&) = delete;

  bool valid() const noexcept { return ssl_ != nullptr; }

  // Feeds ciphertext read from the socket. Decrypted application data is
  // appended to `plaintext`; records to send back (handshake messages,
  // alerts, session tickets) are appended to `to_send`. Returns false when
  // the connection is broken (bad record, failed handshake): send `to_send`
  // (it may hold an alert) and close. A close_notify from the peer sets
  // peer_closed().
  [[nodiscard]] bool receive(const char* data, std::size_t size, std::string& plaintext, std::string& to_send);

  // Encrypts application data, appending records to `to_send`.
  [[nodiscard]] bool send(const char* data, std::size_t size, std::string& to_send);

  // Appends a close_notify alert to `to_send`.
  void close(std::string& to_send);

  // For the connect side (tests): produces the ClientHello into `to_send`.
  bool start_handshake(std::string& to_send);

  bool handshake_done() const noexcept;
  bool peer_closed() const noexcept { return peer_closed_; }
  // Why the last call failed ("tlsv1 alert unknown ca", "wrong version number").
  const std::string& error() const noexcept { return error_; }
  // Negotiated protocol ("TLSv1.3") and ALPN ("http/1.1" or "").
  std::string protocol() const;
  std::string alpn() const;
  // Subject of the client certificate (mutual TLS), "" if none.
  std::string peer_subject() const;

 private:
  bool drain_output(std::string& to_send);
  bool fail_from_ssl_error(int ret);

  SSL* ssl_ = nullptr;
  BIO* network_in_ = nullptr;   // socket → SSL (owned by ssl_)
  BIO* network_out_ = nullptr;  // SSL → socket (owned by ssl_)
  bool peer_closed_ = false;
  std::string error_;
};

}  // namespace wsbridge::tls
