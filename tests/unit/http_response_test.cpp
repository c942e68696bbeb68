// Response serialisation: exact bytes, framing owned by the formatter, and no
// header injection from configured values.
#include <catch2/catch.hpp>

#include "wsbridge/http/response.h"

using wsbridge::http::format_response;
using wsbridge::http::format_switching_protocols;
using wsbridge::http::Header;
using wsbridge::http::reason_phrase;

TEST_CASE("reason phrases", "[http_response_test]") {
  REQUIRE(reason_phrase(101) == "Switching Protocols");
  REQUIRE(reason_phrase(200) == "OK");
  REQUIRE(reason_phrase(301) == "Moved Permanently");
  REQUIRE(reason_phrase(400) == "Bad Request");
  REQUIRE(reason_phrase(403) == "Forbidden");
  REQUIRE(reason_phrase(404) == "Not Found");
  REQUIRE(reason_phrase(405) == "Method Not Allowed");
  REQUIRE(reason_phrase(414) == "URI Too Long");
  REQUIRE(reason_phrase(426) == "Upgrade Required");
  REQUIRE(reason_phrase(429) == "Too Many Requests");
  REQUIRE(reason_phrase(431) == "Request Header Fields Too Large");
  REQUIRE(reason_phrase(500) == "Internal Server Error");
  REQUIRE(reason_phrase(501) == "Not Implemented");
  REQUIRE(reason_phrase(505) == "HTTP Version Not Supported");
  REQUIRE(reason_phrase(299) == "Unknown");
  REQUIRE(reason_phrase(-1) == "Unknown");
}

TEST_CASE("format_response writes a complete closed response", "[http_response_test]") {
  REQUIRE(format_response(404, {}, "404 page not found\n") ==
          "HTTP/1.1 404 Not Found\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n"
          "Content-Length: 19\r\n"
          "Connection: close\r\n"
          "\r\n"
          "404 page not found\n");
}

TEST_CASE("format_response with headers and content types", "[http_response_test]") {
  SECTION("headers come first, in order, repeats kept") {
    const std::vector<Header> headers = {{"Location", "/x?q=1"}, {"X-A", "1"}, {"X-A", "2"}};
    REQUIRE(format_response(301, headers, "<a href=\"/x?q=1\">Moved Permanently</a>.\n", "text/html; charset=utf-8") ==
            "HTTP/1.1 301 Moved Permanently\r\n"
            "Location: /x?q=1\r\n"
            "X-A: 1\r\n"
            "X-A: 2\r\n"
            "Content-Type: text/html; charset=utf-8\r\n"
            "Content-Length: 40\r\n"
            "Connection: close\r\n"
            "\r\n"
            "<a href=\"/x?q=1\">Moved Permanently</a>.\n");
  }
  SECTION("an empty body has no Content-Type") {
    REQUIRE(format_response(500, {}, "") ==
            "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  }
  SECTION("a configured Content-Type replaces the default") {
    const std::string out = format_response(200, {{"content-type", "text/html"}}, "x");
    REQUIRE(out == "HTTP/1.1 200 OK\r\ncontent-type: text/html\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
  }
  SECTION("an empty content_type argument sends none") {
    REQUIRE(format_response(200, {}, "x", "") == "HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx");
  }
}

TEST_CASE("format_response refuses unsafe and framing headers", "[http_response_test]") {
  const std::vector<Header> headers = {
      {"X-Split", "a\r\nSet-Cookie: evil=1"},
      {"X-Lf", "a\nb"},
      {"X-Nul", std::string("a\0b", 3)},
      {"Bad Name", "v"},
      {"Bad:Name", "v"},
      {"", "v"},
      {"Content-Length", "999"},
      {"connection", "keep-alive"},
      {"Transfer-Encoding", "chunked"},
      {"X-Ok", "fine"},
  };
  REQUIRE(format_response(200, headers, "") == "HTTP/1.1 200 OK\r\nX-Ok: fine\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
}

TEST_CASE("format_switching_protocols matches gorilla's 101", "[http_response_test]") {
  REQUIRE(format_switching_protocols("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=", {}) ==
          "HTTP/1.1 101 Switching Protocols\r\n"
          "Upgrade: websocket\r\n"
          "Connection: Upgrade\r\n"
          "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"
          "\r\n");
  SECTION("extra headers follow; ones that would break the handshake are dropped") {
    const std::vector<Header> extra = {{"Sec-WebSocket-Protocol", "chat"},
                                       {"X-Injected", "a\r\nb"},
                                       {"sec-websocket-accept", "forged"},
                                       {"Connection", "close"},
                                       {"Upgrade", "h2c"},
                                       {"Content-Length", "0"},
                                       {"X-Server", "wsbridge"}};
    REQUIRE(format_switching_protocols("KEY", extra) ==
            "HTTP/1.1 101 Switching Protocols\r\n"
            "Upgrade: websocket\r\n"
            "Connection: Upgrade\r\n"
            "Sec-WebSocket-Accept: KEY\r\n"
            "Sec-WebSocket-Protocol: chat\r\n"
            "X-Server: wsbridge\r\n"
            "\r\n");
  }
}

TEST_CASE("html_escape and the 301 body escape what could become markup", "[http_response_test]") {
  using wsbridge::http::html_escape;
  CHECK(html_escape("/a?x=<script>&y=\"'") == "/a?x=&lt;script&gt;&amp;y=&#34;&#39;");
  CHECK(wsbridge::http::moved_permanently_body("/b\"c") == "<a href=\"/b&#34;c\">Moved Permanently</a>.\n");
}
