// RequestParser: every request is fed whole, one byte at a time, and split in
// two at every position, and must give the same result each way. The bytes
// after the head (WebSocket frames, a body) must come back untouched.
#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <vector>

#include "wsbridge/http/request_parser.h"

using wsbridge::http::ParserLimits;
using wsbridge::http::Request;
using wsbridge::http::RequestParser;
using Status = RequestParser::Status;

namespace {

struct Outcome {
  Status status = Status::NeedMore;
  std::size_t head_bytes = 0;  // sum of `consumed` over all feeds
  std::string rest;            // input after the head, as the caller would keep it
  int error_status = 0;
  std::string error_reason;
  Request request;
};

// Feeds `input` in chunks ending at each position in `cuts` (then the rest),
// stopping at the first non-NeedMore status as a caller would.
Outcome drive(const std::string& input, const std::vector<std::size_t>& cuts, ParserLimits limits = {}) {
  RequestParser parser(limits);
  Outcome out;
  std::size_t begin = 0;
  std::vector<std::size_t> ends = cuts;
  ends.push_back(input.size());
  for (const std::size_t end : ends) {
    if (end < begin) continue;
    std::size_t consumed = 999999;
    out.status = parser.feed(input.data() + begin, end - begin, consumed);
    REQUIRE(consumed <= end - begin);
    out.head_bytes += consumed;
    if (out.status != Status::NeedMore) {
      out.rest = input.substr(begin + consumed);
      break;
    }
    REQUIRE(consumed == end - begin);  // while incomplete, every byte belongs to the head
    begin = end;
  }
  out.error_status = parser.error_status();
  out.error_reason = parser.error_reason();
  out.request = parser.request();
  return out;
}

Outcome whole(const std::string& input, ParserLimits limits = {}) { return drive(input, {}, limits); }

std::vector<std::size_t> every_byte(const std::string& input) {
  std::vector<std::size_t> cuts;
  for (std::size_t i = 1; i < input.size(); ++i) cuts.push_back(i);
  return cuts;
}

void require_same(const Outcome& a, const Outcome& b) {
  REQUIRE(a.status == b.status);
  REQUIRE(a.error_status == b.error_status);
  REQUIRE(a.error_reason == b.error_reason);
  // After an error the connection is answered and closed; how far the
  // parser got into the bad request does not matter to the caller.
  if (a.status == Status::Error) return;
  REQUIRE(a.head_bytes == b.head_bytes);
  REQUIRE(a.rest == b.rest);
  REQUIRE(a.request.method == b.request.method);
  REQUIRE(a.request.target == b.request.target);
  REQUIRE(a.request.path == b.request.path);
  REQUIRE(a.request.query == b.request.query);
  REQUIRE(a.request.has_query == b.request.has_query);
  REQUIRE(a.request.headers.size() == b.request.headers.size());
  for (std::size_t i = 0; i < a.request.headers.size(); ++i) {
    REQUIRE(a.request.headers[i].name == b.request.headers[i].name);
    REQUIRE(a.request.headers[i].value == b.request.headers[i].value);
  }
}

// Whole, byte by byte, every two-way split and some random splits all agree.
Outcome parse_every_way(const std::string& input, ParserLimits limits = {}) {
  const Outcome reference = whole(input, limits);
  require_same(reference, drive(input, every_byte(input), limits));
  for (std::size_t cut = 0; cut <= input.size(); ++cut) require_same(reference, drive(input, {cut}, limits));
  std::mt19937 rng(12345);
  for (int round = 0; round < 20 && input.size() > 2; ++round) {
    std::vector<std::size_t> cuts;
    for (std::size_t i = 1; i < input.size(); ++i) {
      if (rng() % 5 == 0) cuts.push_back(i);
    }
    require_same(reference, drive(input, cuts, limits));
  }
  return reference;
}

const std::string kUpgradeHead =
    "GET /chat?room=1 HTTP/1.1\r\n"
    "Host: example.com:8080\r\n"
    "Upgrade: websocket\r\n"
    "Connection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
    "Sec-WebSocket-Version: 13\r\n"
    "\r\n";

}  // namespace

TEST_CASE("parses a WebSocket upgrade request", "[http_request_parser_test]") {
  const Outcome out = parse_every_way(kUpgradeHead);
  REQUIRE(out.status == Status::Complete);
  REQUIRE(out.head_bytes == kUpgradeHead.size());
  REQUIRE(out.rest.empty());
  const Request& r = out.request;
  REQUIRE(r.method == "GET");
  REQUIRE(r.http_major == 1);
  REQUIRE(r.http_minor == 1);
  REQUIRE(r.target == "/chat?room=1");
  REQUIRE(r.path == "/chat");
  REQUIRE(r.query == "room=1");
  REQUIRE(r.has_query);
  REQUIRE(r.headers.size() == 5);
  REQUIRE(r.headers[0].name == "Host");
  REQUIRE(r.headers[0].value == "example.com:8080");
  REQUIRE(r.headers[4].name == "Sec-WebSocket-Version");
  REQUIRE(r.headers[4].value == "13");
}

TEST_CASE("bytes after the head are returned untouched", "[http_request_parser_test]") {
  // A masked text frame "Hello" (RFC 6455 §5.7) and a second frame's start,
  // sent by an eager client in the same packet as the handshake.
  const std::string frames("\x81\x85\x37\xfa\x21\x3d\x7f\x9f\x4d\x51\x58\x89\x80", 13);
  const std::string input = kUpgradeHead + frames;
  const Outcome out = parse_every_way(input);
  REQUIRE(out.status == Status::Complete);
  REQUIRE(out.head_bytes == kUpgradeHead.size());
  REQUIRE(out.rest == frames);

  SECTION("even bytes that look like HTTP") {
    const std::string tail = "GET /second HTTP/1.1\r\n\r\n";
    const Outcome second = parse_every_way(kUpgradeHead + tail);
    REQUIRE(second.status == Status::Complete);
    REQUIRE(second.rest == tail);
  }
  SECTION("and a request body is not read") {
    const std::string post = "POST /p HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello";
    const Outcome body = parse_every_way(post);
    REQUIRE(body.status == Status::Complete);
    REQUIRE(body.rest == "hello");
  }
}

TEST_CASE("needs more until the blank line", "[http_request_parser_test]") {
  const std::string partial = kUpgradeHead.substr(0, kUpgradeHead.size() - 1);
  RequestParser parser;
  std::size_t consumed = 0;
  REQUIRE(parser.feed(partial.data(), partial.size(), consumed) == Status::NeedMore);
  REQUIRE(consumed == partial.size());
  REQUIRE(parser.feed("\nXY", 3, consumed) == Status::Complete);
  REQUIRE(consumed == 1);
  SECTION("an empty feed changes nothing") {
    RequestParser fresh;
    REQUIRE(fresh.feed("", 0, consumed) == Status::NeedMore);
    REQUIRE(consumed == 0);
  }
  SECTION("feeding after the end reports the same outcome and consumes nothing") {
    REQUIRE(parser.feed("more", 4, consumed) == Status::Complete);
    REQUIRE(consumed == 0);
  }
}

TEST_CASE("header values are trimmed, names keep their case, repeats are kept", "[http_request_parser_test]") {
  const Outcome out = parse_every_way(
      "GET / HTTP/1.1\r\n"
      "hOsT:   h  \r\n"
      "X-Empty:\r\n"
      "X-Blank: \t \r\n"
      "X-Inner:  a  b\t\r\n"
      "Accept: a\r\n"
      "accept: b\r\n"
      "X-High: caf\xc3\xa9\r\n"
      "\r\n");
  REQUIRE(out.status == Status::Complete);
  const auto& h = out.request.headers;
  REQUIRE(h.size() == 7);
  REQUIRE(h[0].name == "hOsT");
  REQUIRE(h[0].value == "h");
  REQUIRE(h[1].value.empty());
  REQUIRE(h[2].value.empty());
  REQUIRE(h[3].value == "a  b");
  REQUIRE(out.request.joined_header("ACCEPT") == "a, b");
  REQUIRE(h[6].value == "caf\xc3\xa9");
}

TEST_CASE("obsolete line folding is joined as Go does", "[http_request_parser_test]") {
  const Outcome out = parse_every_way("GET / HTTP/1.1\r\nX: a\r\n b\r\nY: c\r\n\r\n");
  REQUIRE(out.status == Status::Complete);
  REQUIRE(out.request.headers.size() == 2);
  REQUIRE(out.request.headers[0].value == "a b");
  REQUIRE(out.request.headers[1].value == "c");
}

TEST_CASE("target forms split into path and query", "[http_request_parser_test]") {
  struct Case {
    const char* target;
    const char* path;
    const char* query;
    bool has_query;
  };
  const Case cases[] = {
      {"/", "/", "", false},
      {"/a%20b/c", "/a%20b/c", "", false},
      {"/x?", "/x", "", true},
      {"/x?a=1?b=2", "/x", "a=1?b=2", true},
      {"/x?y=%20z+q", "/x", "y=%20z+q", true},
      {"//x", "//x", "", false},
      {"/a#frag", "/a#frag", "", false},
      {"http://other:81/abs/p?x", "/abs/p", "x", true},
      {"https://other", "", "", false},
      {"http://other?q", "", "q", true},
      {"*", "*", "", false},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    const Outcome out = parse_every_way(std::string("GET ") + c.target + " HTTP/1.1\r\nHost: h\r\n\r\n");
    REQUIRE(out.status == Status::Complete);
    REQUIRE(out.request.target == c.target);
    REQUIRE(out.request.path == c.path);
    REQUIRE(out.request.query == c.query);
    REQUIRE(out.request.has_query == c.has_query);
  }
}

TEST_CASE("methods and HTTP/1.0 are reported", "[http_request_parser_test]") {
  const Outcome post = parse_every_way("POST /x HTTP/1.0\r\n\r\n");
  REQUIRE(post.status == Status::Complete);
  REQUIRE(post.request.method == "POST");
  REQUIRE(post.request.http_major == 1);
  REQUIRE(post.request.http_minor == 0);
  const Outcome connect = parse_every_way("CONNECT host:443 HTTP/1.1\r\nHost: host\r\n\r\n");
  REQUIRE(connect.status == Status::Complete);
  REQUIRE(connect.request.method == "CONNECT");
  REQUIRE(connect.request.target == "host:443");
}

TEST_CASE("malformed requests are 400 with llhttp's reason", "[http_request_parser_test]") {
  const char* const cases[] = {
      "GET / HTTP/1.1\nHost: h\n\n",                                      // bare LF
      "GET / HTTP/1.1\r\nHost: h\rX: y\r\n\r\n",                          // lone CR
      "GET / HTTP/1.1\r\nNoColon\r\n\r\n",                                // header without ':'
      "GET / HTTP/1.1\r\nX: a\x01" "b\r\n\r\n",                           // control byte in a value
      "GET / HTTP/1.1x\r\n\r\n",                                          // junk after the version
      "GET / HTTP/1.x\r\n\r\n",                                           // non-digit version
      "GET /a b HTTP/1.1\r\n\r\n",                                        // space in the target
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\nabc",  // smuggling
      "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n",
      "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",                     // TLS ClientHello
  };
  for (const char* input : cases) {
    CAPTURE(input);
    const Outcome out = parse_every_way(input);
    REQUIRE(out.status == Status::Error);
    REQUIRE(out.error_status == 400);
    REQUIRE_FALSE(out.error_reason.empty());
  }
}

TEST_CASE("spaces in header names, and empty names, are refused", "[http_request_parser_test]") {
  for (const char* input : {"GET / HTTP/1.1\r\nX Y: a\r\n\r\n", "GET / HTTP/1.1\r\nX : a\r\n\r\n",
                            "GET / HTTP/1.1\r\nHost: a\r\n: v\r\n\r\n"}) {
    CAPTURE(input);
    const Outcome out = parse_every_way(input);
    REQUIRE(out.status == Status::Error);
    REQUIRE(out.error_status == 400);
    REQUIRE(out.error_reason == "invalid header name");
  }
}

TEST_CASE("unknown but well-formed methods are 501", "[http_request_parser_test]") {
  for (const char* input : {"FOO / HTTP/1.1\r\n\r\n", "get / HTTP/1.1\r\n\r\n", "GETX / HTTP/1.1\r\n\r\n"}) {
    CAPTURE(input);
    const Outcome out = parse_every_way(input);
    REQUIRE(out.status == Status::Error);
    REQUIRE(out.error_status == 501);
  }
}

TEST_CASE("versions other than 1.x are 505", "[http_request_parser_test]") {
  const char* const cases[] = {
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",  // the HTTP/2 connection preface
      "GET / HTTP/2.0\r\nHost: h\r\n\r\n",
      "GET / HTTP/3.0\r\nHost: h\r\n\r\n",
      "GET / HTTP/1.2\r\nHost: h\r\n\r\n",  // llhttp knows only 1.0 and 1.1
      "GET /\r\n\r\n",                      // HTTP/0.9
  };
  for (const char* input : cases) {
    CAPTURE(input);
    const Outcome out = parse_every_way(input);
    REQUIRE(out.status == Status::Error);
    REQUIRE(out.error_status == 505);
  }
}

TEST_CASE("head size limit gives 431 however the bytes arrive", "[http_request_parser_test]") {
  ParserLimits limits;
  limits.max_head_bytes = 64;
  const std::string head = "GET / HTTP/1.1\r\nX: " + std::string(64 - 19 - 4, 'a') + "\r\n\r\n";
  REQUIRE(head.size() == 64);

  SECTION("a head of exactly the limit is accepted, with bytes after it") {
    const Outcome out = parse_every_way(head + "extra", limits);
    REQUIRE(out.status == Status::Complete);
    REQUIRE(out.head_bytes == 64);
    REQUIRE(out.rest == "extra");
  }
  SECTION("one byte more is refused") {
    const std::string longer = "GET / HTTP/1.1\r\nX: " + std::string(64 - 19 - 4 + 1, 'a') + "\r\n\r\n";
    const Outcome out = parse_every_way(longer, limits);
    REQUIRE(out.status == Status::Error);
    REQUIRE(out.error_status == 431);
  }
  SECTION("a client that never ends its head is cut off at the limit") {
    RequestParser parser(limits);
    std::size_t consumed = 0;
    const std::string endless(200, 'a');
    REQUIRE(parser.feed("GET / HTTP/1.1\r\nX: ", 19, consumed) == Status::NeedMore);
    REQUIRE(parser.feed(endless.data(), endless.size(), consumed) == Status::Error);
    REQUIRE(consumed == 64 - 19);
    REQUIRE(parser.error_status() == 431);
  }
}

TEST_CASE("header count limit gives 431", "[http_request_parser_test]") {
  ParserLimits limits;
  limits.max_headers = 3;
  const std::string three = "GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
  REQUIRE(parse_every_way(three, limits).status == Status::Complete);
  const Outcome four = parse_every_way("GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", limits);
  REQUIRE(four.status == Status::Error);
  REQUIRE(four.error_status == 431);
  REQUIRE(four.error_reason == "too many header fields");
}

TEST_CASE("target length limit gives 414", "[http_request_parser_test]") {
  ParserLimits limits;
  limits.max_target_bytes = 16;
  const Outcome ok = parse_every_way("GET /" + std::string(15, 'x') + " HTTP/1.1\r\n\r\n", limits);
  REQUIRE(ok.status == Status::Complete);
  REQUIRE(ok.request.target.size() == 16);
  const Outcome too_long = parse_every_way("GET /" + std::string(16, 'x') + " HTTP/1.1\r\n\r\n", limits);
  REQUIRE(too_long.status == Status::Error);
  REQUIRE(too_long.error_status == 414);
}

TEST_CASE("default limits", "[http_request_parser_test]") {
  const ParserLimits limits;
  REQUIRE(limits.max_head_bytes == 16 * 1024);
  REQUIRE(limits.max_headers == 100);
  REQUIRE(limits.max_target_bytes == 8 * 1024);
  // A browser-sized request with many cookies fits.
  std::string head = "GET / HTTP/1.1\r\nHost: h\r\n";
  for (int i = 0; i < 90; ++i) head += "X-H" + std::to_string(i) + ": " + std::string(100, 'v') + "\r\n";
  head += "\r\n";
  REQUIRE(whole(head).status == Status::Complete);
  REQUIRE(drive(head, every_byte(head)).request.headers.size() == 91);
}
