#include <catch2/catch.hpp>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "wsbridge/tls/tls_context.h"
#include "wsbridge/tls/tls_session.h"

using wsbridge::tls::TlsContext;
using wsbridge::tls::TlsFiles;
using wsbridge::tls::TlsSession;

namespace {

// A throwaway self-signed certificate for "localhost", written to a temp dir.
struct TestCertificate {
  std::string dir, cert_path, key_path;

  TestCertificate() {
    char templ[] = "/tmp/wsbridge-tls-test-XXXXXX";
    dir = mkdtemp(templ);
    cert_path = dir + "/cert.pem";
    key_path = dir + "/key.pem";
    EVP_PKEY* key = EVP_EC_gen("P-256");
    X509* cert = X509_new();
    ASN1_INTEGER_set(X509_get_serialNumber(cert), 1);
    X509_gmtime_adj(X509_getm_notBefore(cert), 0);
    X509_gmtime_adj(X509_getm_notAfter(cert), 3600);
    X509_set_pubkey(cert, key);
    X509_NAME* name = X509_get_subject_name(cert);
    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC, reinterpret_cast<const unsigned char*>("localhost"),
                               -1, -1, 0);
    X509_set_issuer_name(cert, name);
    X509_sign(cert, key, EVP_sha256());
    FILE* f = fopen(cert_path.c_str(), "w");
    PEM_write_X509(f, cert);
    fclose(f);
    f = fopen(key_path.c_str(), "w");
    PEM_write_PrivateKey(f, key, nullptr, nullptr, 0, nullptr, nullptr);
    fclose(f);
    X509_free(cert);
    EVP_PKEY_free(key);
  }
  ~TestCertificate() {
    unlink(cert_path.c_str());
    unlink(key_path.c_str());
    rmdir(dir.c_str());
  }
};

SSL_CTX* client_context(const std::string& trusted_cert, const char* alpn_wire = nullptr, unsigned alpn_len = 0) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_client_method());
  SSL_CTX_load_verify_locations(ctx, trusted_cert.c_str(), nullptr);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr);
  if (alpn_wire) SSL_CTX_set_alpn_protos(ctx, reinterpret_cast<const unsigned char*>(alpn_wire), alpn_len);
  return ctx;
}

// Runs the handshake between two sessions in memory; returns false on failure.
bool pump_handshake(TlsSession& client, TlsSession& server) {
  std::string to_server, to_client, plain;
  if (!client.start_handshake(to_server)) return false;
  for (int round = 0; round < 10 && !(client.handshake_done() && server.handshake_done()); ++round) {
    std::string out;
    if (!server.receive(to_server.data(), to_server.size(), plain, out)) return false;
    to_server.clear();
    to_client += out;
    out.clear();
    if (!client.receive(to_client.data(), to_client.size(), plain, out)) return false;
    to_client.clear();
    to_server += out;
  }
  if (!to_server.empty()) {
    std::string out;
    if (!server.receive(to_server.data(), to_server.size(), plain, out)) return false;
  }
  return client.handshake_done() && server.handshake_done() && plain.empty();
}

}  // namespace

TEST_CASE("handshake, data both ways and close_notify", "[tls_session_test]") {
  TestCertificate cert;
  TlsContext server_ctx;
  std::string error;
  REQUIRE(server_ctx.load({cert.cert_path, cert.key_path, ""}, error));
  SSL_CTX* cctx = client_context(cert.cert_path, "\x08http/1.1", 9);
  {
    TlsSession server(server_ctx.get());
    TlsSession client(cctx, false);
    REQUIRE(pump_handshake(client, server));
    CHECK(server.protocol() == "TLSv1.3");
    CHECK(server.alpn() == "http/1.1");

    // Client → server, fed to the server one byte at a time.
    std::string records, plain, replies;
    REQUIRE(client.send("GET / HTTP/1.1\r\n\r\n", 18, records));
    for (char byte : records) REQUIRE(server.receive(&byte, 1, plain, replies));
    CHECK(plain == "GET / HTTP/1.1\r\n\r\n");

    // Server → client, a large payload spanning many records.
    std::string big(200000, 'x');
    records.clear();
    REQUIRE(server.send(big.data(), big.size(), records));
    std::string received, ignored;
    REQUIRE(client.receive(records.data(), records.size(), received, ignored));
    CHECK(received == big);

    // close_notify reaches the peer as peer_closed().
    records.clear();
    client.close(records);
    REQUIRE_FALSE(records.empty());
    plain.clear();
    REQUIRE(server.receive(records.data(), records.size(), plain, replies));
    CHECK(server.peer_closed());
  }
  SSL_CTX_free(cctx);
}

TEST_CASE("a client that does not offer http/1.1 still connects, without ALPN", "[tls_session_test]") {
  TestCertificate cert;
  TlsContext server_ctx;
  std::string error;
  REQUIRE(server_ctx.load({cert.cert_path, cert.key_path, ""}, error));
  SSL_CTX* cctx = client_context(cert.cert_path, "\x02h2", 3);
  {
    TlsSession server(server_ctx.get());
    TlsSession client(cctx, false);
    REQUIRE(pump_handshake(client, server));
    CHECK(server.alpn().empty());
  }
  SSL_CTX_free(cctx);
}

TEST_CASE("plain HTTP sent to a TLS port is an error, not a hang", "[tls_session_test]") {
  TestCertificate cert;
  TlsContext server_ctx;
  std::string error;
  REQUIRE(server_ctx.load({cert.cert_path, cert.key_path, ""}, error));
  TlsSession server(server_ctx.get());
  std::string request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n", plain, out;
  CHECK_FALSE(server.receive(request.data(), request.size(), plain, out));
  CHECK_FALSE(server.error().empty());
  CHECK(plain.empty());
}

TEST_CASE("TLS 1.1 clients are refused", "[tls_session_test]") {
  TestCertificate cert;
  TlsContext server_ctx;
  std::string error;
  REQUIRE(server_ctx.load({cert.cert_path, cert.key_path, ""}, error));
  SSL_CTX* cctx = client_context(cert.cert_path);
  SSL_CTX_set_security_level(cctx, 0);
  SSL_CTX_set_min_proto_version(cctx, TLS1_VERSION);
  SSL_CTX_set_max_proto_version(cctx, TLS1_1_VERSION);
  {
    TlsSession server(server_ctx.get());
    TlsSession client(cctx, false);
    CHECK_FALSE(pump_handshake(client, server));
  }
  SSL_CTX_free(cctx);
}

TEST_CASE("loading bad files fails with a message and keeps the old context", "[tls_session_test]") {
  TestCertificate cert;
  TlsContext ctx;
  std::string error;
  CHECK_FALSE(ctx.load({"/nonexistent/cert.pem", cert.key_path, ""}, error));
  CHECK(error.find("/nonexistent/cert.pem") != std::string::npos);
  CHECK(ctx.get() == nullptr);
  REQUIRE(ctx.load({cert.cert_path, cert.key_path, ""}, error));
  SSL_CTX* before = ctx.get();
  TestCertificate other;
  // Mismatched key and certificate.
  CHECK_FALSE(ctx.load({cert.cert_path, other.key_path, ""}, error));
  CHECK((error.find("mismatch") != std::string::npos || error.find("does not match") != std::string::npos));
  CHECK(ctx.get() == before);
}
