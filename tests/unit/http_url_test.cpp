// Path decoding and cleaning, checked against Go's net/http behaviour
// (websocketd 0.4.1 answers 301 to exactly the paths clean_path changes).
#include <catch2/catch.hpp>

#include "wsbridge/http/url.h"

using wsbridge::http::clean_path;
using wsbridge::http::percent_decode_path;

TEST_CASE("percent_decode_path decodes escapes", "[http_url_test]") {
  REQUIRE(percent_decode_path("") == std::string());
  REQUIRE(percent_decode_path("/plain") == std::string("/plain"));
  REQUIRE(percent_decode_path("/a%20b") == std::string("/a b"));
  REQUIRE(percent_decode_path("/%41%4a%4A%7e") == std::string("/AJJ~"));
  REQUIRE(percent_decode_path("/a%2Fb") == std::string("/a/b"));  // Go's URL.Path decodes %2F too
  REQUIRE(percent_decode_path("/%2e%2e/x") == std::string("/../x"));
  REQUIRE(percent_decode_path("/a+b") == std::string("/a+b"));  // '+' is not a space in paths
  REQUIRE(percent_decode_path("/%C3%BC") == std::string("/\xc3\xbc"));
  REQUIRE(percent_decode_path("/%00") == std::string("/\0", 2));
  REQUIRE(percent_decode_path("%25%25") == std::string("%%"));
}

TEST_CASE("percent_decode_path rejects malformed escapes", "[http_url_test]") {
  for (const char* bad : {"%", "/%", "/%4", "/%zz", "/%g0", "/%0g", "/a%2", "/%%41", "/% 1"}) {
    CAPTURE(bad);
    REQUIRE_FALSE(percent_decode_path(bad).has_value());
  }
}

TEST_CASE("clean_path follows Go's ServeMux cleanPath", "[http_url_test]") {
  struct Case {
    const char* in;
    const char* out;
  };
  const Case cases[] = {
      {"", "/"},
      {"/", "/"},
      {"a", "/a"},
      {"a/b/", "/a/b/"},
      {"/a/b", "/a/b"},
      {"//x", "/x"},
      {"///", "/"},
      {"/a//b", "/a/b"},
      {"/a/./b", "/a/b"},
      {"/./", "/"},
      {"/.", "/"},
      {"/a/.", "/a"},
      {"/a/./", "/a/"},
      {"/x/./", "/x/"},
      {"/a/..", "/"},
      {"/a/../", "/"},
      {"/a/../b", "/b"},
      {"/a/b/../", "/a/"},
      {"/../x", "/x"},
      {"/../../x/", "/x/"},
      {"/..", "/"},
      {"/a/b/c/../../d", "/a/d"},
      {"/a/..b/c", "/a/..b/c"},   // "..b" is a name, not a parent reference
      {"/a/.b", "/a/.b"},
      {"/...", "/..."},
      {"/a b/", "/a b/"},
      {"/dir//", "/dir/"},
      {"*", "/*"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    REQUIRE(clean_path(c.in) == c.out);
  }
}

TEST_CASE("clean_path is idempotent", "[http_url_test]") {
  for (const char* p : {"/a/../b/./c//", "//..//x/.", "", "/a/b/", "x/y/..", "/%2e/"}) {
    CAPTURE(p);
    const std::string once = clean_path(p);
    REQUIRE(clean_path(once) == once);
  }
}

TEST_CASE("escape_path escapes like Go's url.URL", "[http_url_test]") {
  REQUIRE(wsbridge::http::escape_path("/b!") == "/b%21");
  REQUIRE(wsbridge::http::escape_path("/$&+,:;=@~-_./AZaz09") == "/$&+,:;=@~-_./AZaz09");
  REQUIRE(wsbridge::http::escape_path("/a b?#%") == "/a%20b%3F%23%25");
  REQUIRE(wsbridge::http::escape_path("/\xc3\xbc'()*") == "/%C3%BC%27%28%29%2A");
  REQUIRE(wsbridge::http::escape_path(std::string("/\0\x7f", 3)) == "/%00%7F");
}

TEST_CASE("escaped_request_path keeps a valid raw path as sent", "[http_url_test]") {
  using wsbridge::http::escaped_request_path;
  REQUIRE(escaped_request_path("/p%20q/r", "/p q/r") == "/p%20q/r");
  REQUIRE(escaped_request_path("/%41", "/A") == "/%41");
  REQUIRE(escaped_request_path("/a!b'(c)*[d]", "/a!b'(c)*[d]") == "/a!b'(c)*[d]");
  // Raw bytes Go would not leave unescaped make it re-escape the decoded path.
  REQUIRE(escaped_request_path("/\xc3\xbc", "/\xc3\xbc") == "/%C3%BC");
  REQUIRE(escaped_request_path("/a#b", "/a#b") == "/a%23b");
  REQUIRE(escaped_request_path("/%41\"", "/A\"") == "/A%22");
  REQUIRE(escaped_request_path("", "") == "");
}
