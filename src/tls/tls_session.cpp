#include "wsbridge/tls/tls_session.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <climits>

namespace wsbridge::tls {

TlsSession::TlsSession(SSL_CTX* ctx, bool server) {
  ssl_ = SSL_new(ctx);
  if (ssl_ == nullptr) return;
  network_in_ = BIO_new(BIO_s_mem());
  network_out_ = BIO_new(BIO_s_mem());
  if (network_in_ == nullptr || network_out_ == nullptr) {
    BIO_free(network_in_);
    BIO_free(network_out_);
    SSL_free(ssl_);
    ssl_ = nullptr;
    return;
  }
  // An empty memory BIO reports "retry" rather than EOF, which is what
  // "need more bytes from the socket" means here.
  BIO_set_mem_eof_return(network_in_, -1);
  BIO_set_mem_eof_return(network_out_, -1);
  SSL_set_bio(ssl_, network_in_, network_out_);
  if (server) SSL_set_accept_state(ssl_);
  else SSL_set_connect_state(ssl_);
}

TlsSession::~TlsSession() { SSL_free(ssl_); }

bool TlsSession::drain_output(std::string& to_send) {
  char buffer[16 * 1024];
  while (BIO_ctrl_pending(network_out_) > 0) {
    int n = BIO_read(network_out_, buffer, sizeof buffer);
    if (n <= 0) break;
    to_send.append(buffer, static_cast<std::size_t>(n));
  }
  return true;
}

bool TlsSession::fail_from_ssl_error(int ret) {
  int code = SSL_get_error(ssl_, ret);
  switch (code) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
      return true;  // needs more input: not an error
    case SSL_ERROR_ZERO_RETURN:
      peer_closed_ = true;
      return true;
    default: {
      unsigned long err = ERR_get_error();
      char text[256] = "TLS error";
      if (err != 0) ERR_error_string_n(err, text, sizeof text);
      error_ = text;
      ERR_clear_error();
      return false;
    }
  }
}

bool TlsSession::receive(const char* data, std::size_t size, std::string& plaintext, std::string& to_send) {
  if (ssl_ == nullptr) return false;
  while (size > 0) {
    int chunk = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    int written = BIO_write(network_in_, data, chunk);
    if (written <= 0) {
      error_ = "cannot buffer TLS input";
      return false;
    }
    data += written;
    size -= static_cast<std::size_t>(written);
  }
  char buffer[16 * 1024];
  while (!peer_closed_) {
    int n = SSL_read(ssl_, buffer, sizeof buffer);
    if (n > 0) {
      plaintext.append(buffer, static_cast<std::size_t>(n));
      continue;
    }
    bool ok = fail_from_ssl_error(n);
    drain_output(to_send);  // handshake replies, alerts
    if (!ok) return false;
    break;
  }
  drain_output(to_send);
  return true;
}

bool TlsSession::send(const char* data, std::size_t size, std::string& to_send) {
  if (ssl_ == nullptr) return false;
  while (size > 0) {
    int chunk = size > INT_MAX ? INT_MAX : static_cast<int>(size);
    int n = SSL_write(ssl_, data, chunk);
    if (n <= 0) {
      // A memory BIO never refuses output, so WANT_* cannot stall here.
      bool ok = fail_from_ssl_error(n);
      drain_output(to_send);
      if (!ok || !error_.empty()) return false;
      error_ = "TLS write made no progress";
      return false;
    }
    data += n;
    size -= static_cast<std::size_t>(n);
  }
  return drain_output(to_send);
}

void TlsSession::close(std::string& to_send) {
  if (ssl_ == nullptr || !SSL_is_init_finished(ssl_)) return;
  SSL_shutdown(ssl_);
  ERR_clear_error();
  drain_output(to_send);
}

bool TlsSession::start_handshake(std::string& to_send) {
  if (ssl_ == nullptr) return false;
  int r = SSL_do_handshake(ssl_);
  bool ok = r == 1 || fail_from_ssl_error(r);
  drain_output(to_send);
  return ok;
}

bool TlsSession::handshake_done() const noexcept { return ssl_ != nullptr && SSL_is_init_finished(ssl_); }

std::string TlsSession::protocol() const { return ssl_ ? SSL_get_version(ssl_) : ""; }

std::string TlsSession::alpn() const {
  if (ssl_ == nullptr) return {};
  const unsigned char* data = nullptr;
  unsigned int length = 0;
  SSL_get0_alpn_selected(ssl_, &data, &length);
  return data ? std::string(reinterpret_cast<const char*>(data), length) : std::string();
}

std::string TlsSession::peer_subject() const {
  if (ssl_ == nullptr) return {};
  X509* cert = SSL_get1_peer_certificate(ssl_);
  if (cert == nullptr) return {};
  char* text = X509_NAME_oneline(X509_get_subject_name(cert), nullptr, 0);
  std::string subject = text ? text : "";
  OPENSSL_free(text);
  X509_free(cert);
  return subject;
}

}  // namespace wsbridge::tls
