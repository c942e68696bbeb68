#include <catch2/catch.hpp>

#include <string>

#include "wsbridge/http/proxy_protocol.h"

using wsbridge::http::ProxyHeaderParser;
using Status = ProxyHeaderParser::Status;

namespace {

// Feeds `input` split at `split` and returns the final status and the bytes
// of `input` that the parser left to the caller.
Status feed_split(ProxyHeaderParser& parser, const std::string& input, std::size_t split, std::string& rest) {
  std::size_t consumed = 0;
  Status status = parser.feed(input.data(), split, consumed);
  if (status == Status::Done) {
    rest = input.substr(consumed);
    return status;
  }
  if (status == Status::Error) return status;
  REQUIRE(consumed == split);
  status = parser.feed(input.data() + split, input.size() - split, consumed);
  if (status == Status::Done) rest = input.substr(split + consumed);
  return status;
}

std::string v2_header(unsigned char command, unsigned char family, const std::string& addresses) {
  std::string h("\x0D\x0A\x0D\x0A\x00\x0D\x0A\x51\x55\x49\x54\x0A", 12);
  h.push_back(static_cast<char>(0x20 | command));
  h.push_back(static_cast<char>(family));
  h.push_back(static_cast<char>(addresses.size() >> 8));
  h.push_back(static_cast<char>(addresses.size() & 0xFF));
  return h + addresses;
}

}  // namespace

TEST_CASE("v1 TCP4 and TCP6 headers give the source, split anywhere", "[http_proxy_protocol_test]") {
  const std::string cases[][3] = {
      {"PROXY TCP4 192.0.2.7 10.0.0.1 51234 8080\r\n", "192.0.2.7", "51234"},
      {"PROXY TCP6 2001:db8::7 ::1 443 8080\r\n", "2001:db8::7", "443"},
  };
  for (const auto& c : cases) {
    const std::string input = c[0] + "GET / HTTP/1.1\r\n";
    for (std::size_t split = 0; split <= input.size(); ++split) {
      ProxyHeaderParser parser;
      std::string rest;
      REQUIRE(feed_split(parser, input, split, rest) == Status::Done);
      CHECK(parser.has_source());
      CHECK(parser.source_address() == c[1]);
      CHECK(parser.source_port() == c[2]);
      CHECK(rest == "GET / HTTP/1.1\r\n");
    }
  }
}

TEST_CASE("v1 UNKNOWN is accepted without a source", "[http_proxy_protocol_test]") {
  ProxyHeaderParser parser;
  std::size_t consumed = 0;
  std::string input = "PROXY UNKNOWN\r\nrest";
  REQUIRE(parser.feed(input.data(), input.size(), consumed) == Status::Done);
  CHECK_FALSE(parser.has_source());
  CHECK(input.substr(consumed) == "rest");
}

TEST_CASE("malformed v1 headers are errors", "[http_proxy_protocol_test]") {
  for (std::string bad : std::initializer_list<std::string>{"GET / HTTP/1.1\r\n\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n",
                          "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", "PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n",
                          "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP4 ::1 ::1 1 2\r\n",
                          "PROXX TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY " + std::string(200, 'A')}) {
    ProxyHeaderParser parser;
    std::size_t consumed = 0;
    INFO(bad);
    CHECK(parser.feed(bad.data(), bad.size(), consumed) == Status::Error);
    CHECK_FALSE(parser.error().empty());
  }
}

TEST_CASE("v2 PROXY over IPv4 and IPv6, with TLVs, split anywhere", "[http_proxy_protocol_test]") {
  std::string v4 = std::string("\xC0\x00\x02\x07", 4) + std::string("\x0A\x00\x00\x01", 4) + "\xC8\x22" + "\x1F\x90";
  v4 += std::string("\x04\x00\x01\x00", 4);  // a NOOP-ish TLV the parser must skip
  std::string v6(16, '\0');
  v6[0] = '\x20';
  v6[1] = '\x01';
  v6[15] = '\x07';
  v6 += std::string(15, '\0') + "\x01" + "\x01\xBB" + "\x1F\x90";
  const struct {
    std::string header;
    const char* address;
    const char* port;
  } cases[] = {{v2_header(1, 0x11, v4), "192.0.2.7", "51234"}, {v2_header(1, 0x21, v6), "2001::7", "443"}};
  for (const auto& c : cases) {
    const std::string input = c.header + "\x16\x03\x01";  // a TLS ClientHello follows
    for (std::size_t split = 0; split <= input.size(); ++split) {
      ProxyHeaderParser parser;
      std::string rest;
      REQUIRE(feed_split(parser, input, split, rest) == Status::Done);
      CHECK(parser.source_address() == c.address);
      CHECK(parser.source_port() == c.port);
      CHECK(rest == "\x16\x03\x01");
    }
  }
}

TEST_CASE("v2 LOCAL keeps the peer; bad versions and lengths are errors", "[http_proxy_protocol_test]") {
  ProxyHeaderParser local;
  std::size_t consumed = 0;
  std::string input = v2_header(0, 0x00, "");
  REQUIRE(local.feed(input.data(), input.size(), consumed) == Status::Done);
  CHECK_FALSE(local.has_source());

  std::string bad_version = v2_header(1, 0x11, std::string(12, '\0'));
  bad_version[12] = '\x31';
  ProxyHeaderParser p1;
  CHECK(p1.feed(bad_version.data(), bad_version.size(), consumed) == Status::Error);

  std::string too_long = v2_header(1, 0x11, "");
  too_long[14] = '\x7F';
  ProxyHeaderParser p2;
  CHECK(p2.feed(too_long.data(), too_long.size(), consumed) == Status::Error);

  std::string short_block = v2_header(1, 0x11, std::string(8, '\0'));
  ProxyHeaderParser p3;
  CHECK(p3.feed(short_block.data(), short_block.size(), consumed) == Status::Error);
}
