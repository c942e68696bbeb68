#include "wsbridge/tls/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <cstring>

namespace wsbridge::tls {
namespace {

std::string last_openssl_error() {
  unsigned long code = ERR_peek_last_error();
  char text[256] = "unknown error";
  if (code != 0) ERR_error_string_n(code, text, sizeof text);
  ERR_clear_error();
  return text;
}

// ALPN: we speak HTTP/1.1 only (WebSocket over HTTP/2, RFC 8441, is not
// supported). A client offering only h2 proceeds without ALPN and, if it
// insists on h2, fails on its side with a clear error.
int select_http11(SSL* /*ssl*/, const unsigned char** out, unsigned char* out_length,
                  const unsigned char* offered, unsigned int offered_length, void* /*arg*/) {
  static const unsigned char kHttp11[] = {'h', 't', 't', 'p', '/', '1', '.', '1'};
  for (unsigned int i = 0; i < offered_length;) {
    unsigned int length = offered[i];
    if (i + 1 + length > offered_length) break;
    if (length == sizeof kHttp11 && std::memcmp(offered + i + 1, kHttp11, length) == 0) {
      *out = offered + i + 1;
      *out_length = static_cast<unsigned char>(length);
      return SSL_TLSEXT_ERR_OK;
    }
    i += 1 + length;
  }
  return SSL_TLSEXT_ERR_NOACK;
}

}  // namespace

TlsContext::~TlsContext() { SSL_CTX_free(ctx_); }

bool TlsContext::load(const TlsFiles& files, std::string& error) {
  ERR_clear_error();
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  if (ctx == nullptr) {
    error = "cannot create TLS context: " + last_openssl_error();
    return false;
  }
  // TLS 1.2 and 1.3 only: older versions are broken or deprecated (RFC 8996).
  SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
  // Renegotiation is a denial-of-service lever and WebSocket never needs it.
  SSL_CTX_set_options(ctx, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  // Memory BIOs never block, but a write may move the buffer it was given
  // when it is retried; allow that, and free idle read buffers.
  SSL_CTX_set_mode(ctx, SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
  SSL_CTX_set_alpn_select_cb(ctx, select_http11, nullptr);

  if (SSL_CTX_use_certificate_chain_file(ctx, files.certificate_chain.c_str()) != 1) {
    error = "cannot load certificate '" + files.certificate_chain + "': " + last_openssl_error();
    SSL_CTX_free(ctx);
    return false;
  }
  if (SSL_CTX_use_PrivateKey_file(ctx, files.private_key.c_str(), SSL_FILETYPE_PEM) != 1) {
    error = "cannot load private key '" + files.private_key + "': " + last_openssl_error();
    SSL_CTX_free(ctx);
    return false;
  }
  if (SSL_CTX_check_private_key(ctx) != 1) {
    error = "private key '" + files.private_key + "' does not match certificate '" +
            files.certificate_chain + "'";
    ERR_clear_error();
    SSL_CTX_free(ctx);
    return false;
  }
  if (!files.client_ca.empty()) {
    if (SSL_CTX_load_verify_locations(ctx, files.client_ca.c_str(), nullptr) != 1) {
      error = "cannot load client CA '" + files.client_ca + "': " + last_openssl_error();
      SSL_CTX_free(ctx);
      return false;
    }
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
    SSL_CTX_set_client_CA_list(ctx, SSL_load_client_CA_file(files.client_ca.c_str()));
  }
  SSL_CTX_free(ctx_);
  ctx_ = ctx;
  return true;
}

}  // namespace wsbridge::tls
