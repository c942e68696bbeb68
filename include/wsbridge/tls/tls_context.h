// Server-side TLS configuration (OpenSSL 3): certificate chain, key, optional
// client CA, protocol floor and ALPN. Built once at start-up and rebuilt on
// SIGHUP; connections keep the context they started with (SSL_CTX is
// reference-counted), so a reload never drops a connection.
#pragma once
#include <memory>
#include <string>

typedef struct ssl_ctx_st SSL_CTX;

namespace wsbridge::tls {

struct TlsFiles {
  std::string certificate_chain;  // PEM: leaf first, then intermediates
  std::string private_key;        // PEM
  std::string client_ca;          // PEM; non-empty → clients must present a certificate it signed
};

class TlsContext {
 public:
  TlsContext() = default;
  ~TlsContext();
  TlsContext(const TlsContext&) = delete;
  TlsContext& operator=(const TlsContext&) = delete;

  // Loads (or reloads) the files. On failure returns false with `error` set
  // and keeps the previous context, so a bad reload leaves the server serving.
  [[nodiscard]] bool load(const TlsFiles& files, std::string& error);

  // The current context, for new sessions. Never null after a successful load().
  SSL_CTX* get() const noexcept { return ctx_; }

 private:
  SSL_CTX* ctx_ = nullptr;
};

}  // namespace wsbridge::tls
