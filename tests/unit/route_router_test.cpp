// Routing in COMMAND mode. Expected redirects were taken from Debian's
// websocketd 0.4.1 on loopback (Go 1.19 ServeMux): e.g. "GET //x?q=1" →
// "Location: /x?q=1", "/a/../b!?q=1&x=<" → "/b%21?q=1&x=<", "/%2e%2e/x?" →
// "/x", "//ü/a'" → "/%C3%BC/a%27", "http://h/a//b?z" → "/a/b?z", "/%zz" →
// 400, "/a?%zz" → 404 (the query is not decoded), missing or repeated Host → 400.
#include <catch2/catch.hpp>

#include "wsbridge/route/router.h"

using wsbridge::cli::Config;
using wsbridge::http::Request;
using wsbridge::route::route_request;
using wsbridge::route::RouteKind;

namespace {

// Builds what the parser would produce for `target` (origin or absolute form).
Request make_request(const std::string& target, bool upgrade, const std::string& method = "GET") {
  Request request;
  request.method = method;
  request.target = target;
  std::string_view rest = target;
  const std::size_t scheme = rest.find("://");
  if (!rest.empty() && rest.front() != '/' && scheme != std::string_view::npos) {
    const std::size_t start = rest.find_first_of("/?", scheme + 3);
    rest = start == std::string_view::npos ? std::string_view{} : rest.substr(start);
  }
  const std::size_t q = rest.find('?');
  request.path = std::string(rest.substr(0, q));
  if (q != std::string_view::npos) {
    request.query = std::string(rest.substr(q + 1));
    request.has_query = true;
  }
  request.headers.push_back({"Host", "127.0.0.1:8080"});
  if (upgrade) {
    request.headers.push_back({"Upgrade", "websocket"});
    request.headers.push_back({"Connection", "keep-alive, Upgrade"});
    request.headers.push_back({"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="});
    request.headers.push_back({"Sec-WebSocket-Version", "13"});
  }
  return request;
}

Config command_config() {
  Config config;
  config.command = "/bin/cat";
  return config;
}

}  // namespace

TEST_CASE("an upgrade request runs the command for every path", "[route_router_test]") {
  const Config config = command_config();
  struct Case {
    const char* target;
    const char* path_info;
  };
  const Case cases[] = {
      {"/", "/"},
      {"/chat", "/chat"},
      {"/a%20b/c?x=1&y=%20z", "/a b/c"},
      {"/p%2Fq", "/p/q"},  // decodes %2F; "/p/q" is already clean
      {"/%41/", "/A/"},
      {"/dir/", "/dir/"},
      {"/x?", "/x"},
      {"/a/..b", "/a/..b"},
      {"/\xc3\xbc", "/\xc3\xbc"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.target);
    const auto route = route_request(make_request(c.target, true), config);
    REQUIRE(route.kind == RouteKind::WebSocketCommand);
    REQUIRE(route.script_name == "/");
    REQUIRE(route.path_info == c.path_info);
    REQUIRE(route.location.empty());
  }
}

TEST_CASE("unclean paths redirect like Go's ServeMux, upgrades included", "[route_router_test]") {
  const Config config = command_config();
  struct Case {
    const char* target;
    const char* location;
  };
  const Case cases[] = {
      {"//x?q=1", "/x?q=1"},
      {"/a/../b!?q=1&x=<", "/b%21?q=1&x=<"},
      {"/x/./", "/x/"},
      {"/%2e%2e/x?", "/x"},  // a bare "?" is dropped
      {"/a%20b/../c%20d", "/c%20d"},
      {"/a%2fb/..%2F", "/a/"},
      {"/a/..", "/"},
      {"/a/b/../", "/a/"},
      {"/../x", "/x"},
      {"//\xc3\xbc/a'", "/%C3%BC/a%27"},
      {"//x?q=\xc3\xbc", "/x?q=%c3%bc"},  // Go: lower-case hex here
      {"//x y", "/x%20y"},
      {"//a?b#c", "/a?b#c"},
      {"//a#b", "/a%23b"},
      {"//a(b)*!", "/a%28b%29%2A%21"},
      {"//$&+,:;=@~-_.", "/$&+,:;=@~-_."},
      {"/a/%3F/../b", "/a/b"},
      {"/%3f//", "/%3F/"},
      {"http://h/a//b?z", "/a/b?z"},
      {"http://h", "/"},
      {"http://h?q=1", "/?q=1"},
  };
  for (const bool upgrade : {true, false}) {
    for (const Case& c : cases) {
      CAPTURE(c.target, upgrade);
      const auto route = route_request(make_request(c.target, upgrade), config);
      REQUIRE(route.kind == RouteKind::Redirect);
      REQUIRE(route.location == c.location);
    }
  }
}

TEST_CASE("absolute-form targets route by their path", "[route_router_test]") {
  const auto route = route_request(make_request("http://other:81/abs/p?x", true), command_config());
  REQUIRE(route.kind == RouteKind::WebSocketCommand);
  REQUIRE(route.path_info == "/abs/p");
}

TEST_CASE("malformed escapes and odd targets are 400", "[route_router_test]") {
  const Config config = command_config();
  for (const char* target : {"/%zz", "/%4", "/%", "/a%2", "*", "a/b", "/%00", "/a%00b"}) {
    for (const bool upgrade : {true, false}) {
      CAPTURE(target, upgrade);
      REQUIRE(route_request(make_request(target, upgrade), config).kind == RouteKind::BadRequest);
    }
  }
}

TEST_CASE("a malformed query is not the router's concern", "[route_router_test]") {
  const Config config = command_config();
  REQUIRE(route_request(make_request("/a?%zz", false), config).kind == RouteKind::NotFound);
  const auto route = route_request(make_request("/a?%zz", true), config);
  REQUIRE(route.kind == RouteKind::WebSocketCommand);
  REQUIRE(route.path_info == "/a");
}

TEST_CASE("Host must appear exactly once in HTTP/1.1", "[route_router_test]") {
  const Config config = command_config();
  Request missing = make_request("/x", true);
  missing.headers.erase(missing.headers.begin());
  REQUIRE(route_request(missing, config).kind == RouteKind::BadRequest);

  Request twice = make_request("/x", true);
  twice.headers.push_back({"host", "other"});
  REQUIRE(route_request(twice, config).kind == RouteKind::BadRequest);

  SECTION("HTTP/1.0 may omit it") {
    missing.http_minor = 0;
    REQUIRE(route_request(missing, config).kind == RouteKind::WebSocketCommand);
  }
  SECTION("the Host check comes before path cleaning") {
    Request unclean = make_request("//x", false);
    unclean.headers.clear();
    REQUIRE(route_request(unclean, config).kind == RouteKind::BadRequest);
  }
}

TEST_CASE("plain requests and CONNECT are 404", "[route_router_test]") {
  const Config config = command_config();
  for (const char* target : {"/", "/x", "/a?%zz", "/%41/"}) {
    CAPTURE(target);
    REQUIRE(route_request(make_request(target, false), config).kind == RouteKind::NotFound);
  }
  // Go's ServeMux neither cleans nor matches an authority-form target.
  Request connect = make_request("host:443", false, "CONNECT");
  connect.path = "host:443";
  REQUIRE(route_request(connect, config).kind == RouteKind::NotFound);
}

TEST_CASE("only a full upgrade request is a WebSocket", "[route_router_test]") {
  const Config config = command_config();
  Request no_connection = make_request("/x", true);
  no_connection.headers[2].value = "keep-alive";
  REQUIRE(route_request(no_connection, config).kind == RouteKind::NotFound);
  Request other_upgrade = make_request("/x", true);
  other_upgrade.headers[1].value = "h2c";
  REQUIRE(route_request(other_upgrade, config).kind == RouteKind::NotFound);
  Request post = make_request("/x", true, "POST");
  // The method is checked by the handshake (405), not by routing.
  REQUIRE(route_request(post, config).kind == RouteKind::WebSocketCommand);
}

TEST_CASE("without a command an upgrade finds nothing", "[route_router_test]") {
  const Config config;  // no COMMAND and no --dir: nothing is a WebSocket
  REQUIRE(route_request(make_request("/x", true), config).kind == RouteKind::NotFound);
  REQUIRE(route_request(make_request("//x", true), config).kind == RouteKind::Redirect);
}

// ------------------------------------------------ --dir, console, CGI, static

#include "fake_fs.h"

namespace {

test_support::FakeFs served_tree() {
  test_support::FakeFs fs;
  fs.dir("/ws").file("/ws/chat.sh").dir("/cgi").file("/cgi/env.cgi").dir("/www").file("/www/index.html")
      .file("/www/env.cgi").file("/www/chat.sh");
  return fs;
}

}  // namespace

TEST_CASE("--dir upgrades run the script found along the path", "[route_router_test]") {
  const auto fs = served_tree();
  Config config;
  config.dir = "/ws";
  auto route = route_request(make_request("/chat.sh/room?x=1", true), config, fs);
  REQUIRE(route.kind == RouteKind::WebSocketScript);
  CHECK(route.file_path == "/ws/chat.sh");
  CHECK(route.script_name == "/chat.sh");
  CHECK(route.path_info == "/room");
  CHECK(route_request(make_request("/nope.sh", true), config, fs).kind == RouteKind::ScriptNotFound);
  CHECK(route_request(make_request("/", true), config, fs).kind == RouteKind::ScriptNotFound);
  // Plain requests never run --dir scripts.
  CHECK(route_request(make_request("/chat.sh", false), config, fs).kind == RouteKind::NotFound);
  // Unclean paths are redirected before any lookup.
  CHECK(route_request(make_request("/x/../chat.sh", true), config, fs).kind == RouteKind::Redirect);
}

TEST_CASE("plain requests: console, then CGI, then static, then 404", "[route_router_test]") {
  const auto fs = served_tree();
  Config config;
  config.command = "/bin/cat";
  config.devconsole = true;
  CHECK(route_request(make_request("/any/path?q=1", false), config, fs).kind == RouteKind::DevConsole);
  CHECK(route_request(make_request("/any/path", true), config, fs).kind == RouteKind::WebSocketCommand);

  Config served;
  served.cgidir = "/cgi";
  served.staticdir = "/www";
  auto cgi = route_request(make_request("/env.cgi/extra?a=b", false, "POST"), served, fs);
  REQUIRE(cgi.kind == RouteKind::CgiScript);
  CHECK(cgi.file_path == "/cgi/env.cgi");
  CHECK(cgi.script_name == "/env.cgi");
  CHECK(cgi.path_info == "/extra");
  auto page = route_request(make_request("/", false), served, fs);
  REQUIRE(page.kind == RouteKind::StaticFile);
  CHECK(page.file_path == "/www/index.html");
  CHECK(route_request(make_request("/chat.sh", false, "POST"), served, fs).kind == RouteKind::MethodNotAllowed);
  CHECK(route_request(make_request("/chat.sh", false, "HEAD"), served, fs).kind == RouteKind::StaticFile);
  CHECK(route_request(make_request("/.env", false), served, fs).kind == RouteKind::Forbidden);
  auto slash = route_request(make_request("/index.html?v=2", false), served, fs);
  REQUIRE(slash.kind == RouteKind::Redirect);
  CHECK(slash.location == "/?v=2");
  // Without a COMMAND or --dir even an upgrade request is plain HTTP.
  CHECK(route_request(make_request("/", true), served, fs).kind == RouteKind::StaticFile);
  CHECK(route_request(make_request("/missing", false), served, fs).kind == RouteKind::NotFound);
  Config nothing;
  nothing.dir = "/ws";
  CHECK(route_request(make_request("/", false), nothing, fs).kind == RouteKind::NotFound);
}
