// The child's environment, compared with what Debian's websocketd 0.4.1 gave
// a child on loopback: e.g. "GET /p%20q/r?x=1&y=%20z+q" with Host
// "[::1]:8080" → SERVER_NAME=::1 SERVER_PORT=8080 PATH_INFO=/p q/r
// PATH_TRANSLATED=/p q/r QUERY_STRING=x=1&y=%20z+q REQUEST_URI=/p%20q/r?x=1&y=%20z+q;
// "GET /ü?x" → REQUEST_URI=/%C3%BC?x; "GET /a'b?" → REQUEST_URI=/a'b?;
// "GET http://other/abs?x" with Host "hh" → SERVER_NAME=other SERVER_PORT=80
// REQUEST_URI=/abs?x; Host "a:b:c" → SERVER_NAME= SERVER_PORT=; Host "h:" →
// SERVER_PORT=; Host "[::1]" → SERVER_NAME=[::1] SERVER_PORT=80; two X-A
// headers → HTTP_X_A=1, 2; an empty header → HTTP_X_B=; no HTTP_HOST.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "wsbridge/bridge/cgi_env.h"

using wsbridge::bridge::build_child_env;
using wsbridge::bridge::capture_passenv;
using wsbridge::bridge::ConnectionFacts;
using wsbridge::bridge::EnvList;
using wsbridge::http::Request;

namespace {

Request make_request(const std::string& path, const std::string& query, bool has_query, const std::string& host) {
  Request r;
  r.method = "GET";
  r.path = path;
  r.query = query;
  r.has_query = has_query;
  r.target = path + (has_query ? "?" + query : "");
  if (!host.empty()) r.headers.push_back({"Host", host});
  r.headers.push_back({"Upgrade", "websocket"});
  r.headers.push_back({"Connection", "Upgrade"});
  r.headers.push_back({"Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="});
  r.headers.push_back({"Sec-WebSocket-Version", "13"});
  return r;
}

ConnectionFacts make_facts(const std::string& path_info) {
  ConnectionFacts f;
  f.remote_addr = "127.0.0.1";
  f.remote_port = "46914";
  f.remote_host = "127.0.0.1";
  f.script_name = "/";
  f.path_info = path_info;
  f.unique_id = "1795597983536549952";
  f.server_software = "wsbridge/0.1.0";
  return f;
}

std::vector<std::string> names_of(const std::vector<std::string>& env) {
  std::vector<std::string> names;
  for (const std::string& entry : env) names.push_back(entry.substr(0, entry.find('=')));
  return names;
}

std::map<std::string, std::string> as_map(const std::vector<std::string>& env) {
  std::map<std::string, std::string> m;
  for (const std::string& entry : env) {
    const std::size_t eq = entry.find('=');
    REQUIRE(eq != std::string::npos);
    REQUIRE(m.count(entry.substr(0, eq)) == 0);  // every name exactly once
    m[entry.substr(0, eq)] = entry.substr(eq + 1);
  }
  return m;
}

const char* fake_getenv(const char* name) {
  static const std::map<std::string, std::string> env = {
      {"PATH", "/usr/bin:/bin"},
      {"LD_LIBRARY_PATH", ""},
      {"HTTPS", "on"},
      {"SPACED", "  a\r\nb\n  "},
      {"BLANK", " \r\n\t"},
      {"SERVER_SOFTWARE", "custom/1"},
      {"REMOTE_ADDR", "6.6.6.6"},
      {"AUTH_TYPE", "Basic"},
      {" PATH", "leading-space-name"},
  };
  const auto found = env.find(name);
  return found == env.end() ? nullptr : found->second.c_str();
}

}  // namespace

TEST_CASE("variables come in websocketd's order with its values", "[bridge_cgi_env_test]") {
  Request request = make_request("/p%20q/r", "x=1&y=%20z+q", true, "[::1]:8080");
  request.headers.push_back({"Origin", "http://o"});
  const EnvList passenv = {{"PATH", "/usr/bin:/bin"}};
  const auto env = build_child_env(request, make_facts("/p q/r"), passenv);
  const std::vector<std::string> expected_names = {
      "SERVER_SOFTWARE", "PATH", "REMOTE_ADDR", "REMOTE_HOST", "SERVER_NAME", "SERVER_PORT", "SERVER_PROTOCOL",
      "GATEWAY_INTERFACE", "REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "PATH_TRANSLATED", "QUERY_STRING",
      "AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_IDENT", "REMOTE_USER", "UNIQUE_ID", "REMOTE_PORT",
      "REQUEST_URI", "HTTP_UPGRADE", "HTTP_CONNECTION", "HTTP_SEC_WEBSOCKET_KEY", "HTTP_SEC_WEBSOCKET_VERSION",
      "HTTP_ORIGIN"};
  REQUIRE(names_of(env) == expected_names);
  const auto m = as_map(env);
  REQUIRE(m.at("SERVER_SOFTWARE") == "wsbridge/0.1.0");
  REQUIRE(m.at("PATH") == "/usr/bin:/bin");
  REQUIRE(m.at("REMOTE_ADDR") == "127.0.0.1");
  REQUIRE(m.at("REMOTE_HOST") == "127.0.0.1");
  REQUIRE(m.at("SERVER_NAME") == "::1");
  REQUIRE(m.at("SERVER_PORT") == "8080");
  REQUIRE(m.at("SERVER_PROTOCOL") == "HTTP/1.1");
  REQUIRE(m.at("GATEWAY_INTERFACE") == "websocketd-CGI/0.1");
  REQUIRE(m.at("REQUEST_METHOD") == "GET");
  REQUIRE(m.at("SCRIPT_NAME") == "/");
  REQUIRE(m.at("PATH_INFO") == "/p q/r");
  REQUIRE(m.at("PATH_TRANSLATED") == "/p q/r");
  REQUIRE(m.at("QUERY_STRING") == "x=1&y=%20z+q");
  for (const char* empty : {"AUTH_TYPE", "CONTENT_LENGTH", "CONTENT_TYPE", "REMOTE_IDENT", "REMOTE_USER"}) {
    REQUIRE(m.at(empty).empty());
  }
  REQUIRE(m.at("UNIQUE_ID") == "1795597983536549952");
  REQUIRE(m.at("REMOTE_PORT") == "46914");
  REQUIRE(m.at("REQUEST_URI") == "/p%20q/r?x=1&y=%20z+q");
  REQUIRE(m.at("HTTP_CONNECTION") == "Upgrade");
  REQUIRE(m.at("HTTP_UPGRADE") == "websocket");
  REQUIRE(m.at("HTTP_SEC_WEBSOCKET_KEY") == "dGhlIHNhbXBsZSBub25jZQ==");
  REQUIRE(m.at("HTTP_SEC_WEBSOCKET_VERSION") == "13");
  REQUIRE(m.at("HTTP_ORIGIN") == "http://o");
  REQUIRE(m.count("HTTP_HOST") == 0);
  REQUIRE(m.count("HTTPS") == 0);
}

TEST_CASE("HTTPS=on only with TLS, and the default port follows the scheme", "[bridge_cgi_env_test]") {
  ConnectionFacts facts = make_facts("/");
  facts.tls = true;
  const auto env = build_child_env(make_request("/", "", false, "example.com"), facts, {});
  const auto names = names_of(env);
  const auto https = std::find(names.begin(), names.end(), "HTTPS");
  REQUIRE(https != names.end());
  REQUIRE(*(https - 1) == "REQUEST_URI");  // HTTPS comes right before the HTTP_* block
  const auto m = as_map(env);
  REQUIRE(m.at("HTTPS") == "on");
  REQUIRE(m.at("SERVER_NAME") == "example.com");
  REQUIRE(m.at("SERVER_PORT") == "443");
  facts.tls = false;
  REQUIRE(as_map(build_child_env(make_request("/", "", false, "example.com"), facts, {})).at("SERVER_PORT") == "80");
}

TEST_CASE("SERVER_NAME and SERVER_PORT follow Go's SplitHostPort", "[bridge_cgi_env_test]") {
  struct Case {
    const char* host;
    const char* name;
    const char* port;
  };
  const Case cases[] = {
      {"127.0.0.1:18431", "127.0.0.1", "18431"},
      {"example.com", "example.com", "80"},
      {"[::1]:8080", "::1", "8080"},
      {"[::1]", "[::1]", "80"},        // brackets kept when there is no port
      {"[::1]x", "[::1]x", "80"},      // "missing port" too
      {"h:", "h", ""},
      {"a:b:c", "", ""},               // too many colons: both empty
      {"::1", "", ""},
      {"[::1", "", ""},                // missing ']'
      {"[::1]:80:90", "", ""},
      {"a]:80", "", ""},               // unexpected ']'
      {"", "", "80"},                  // HTTP/1.0 without Host
  };
  for (const Case& c : cases) {
    CAPTURE(c.host);
    const auto m = as_map(build_child_env(make_request("/", "", false, c.host), make_facts("/"), {}));
    REQUIRE(m.at("SERVER_NAME") == c.name);
    REQUIRE(m.at("SERVER_PORT") == c.port);
  }
}

TEST_CASE("an absolute-form target supplies the host, as Go's req.Host", "[bridge_cgi_env_test]") {
  Request r = make_request("/abs", "x", true, "hh");
  r.target = "http://other/abs?x";
  const auto m = as_map(build_child_env(r, make_facts("/abs"), {}));
  REQUIRE(m.at("SERVER_NAME") == "other");
  REQUIRE(m.at("SERVER_PORT") == "80");
  REQUIRE(m.at("REQUEST_URI") == "/abs?x");
  r.target = "http://user@other:81?x";
  r.path = "";
  const auto m2 = as_map(build_child_env(r, make_facts("/"), {}));
  REQUIRE(m2.at("SERVER_NAME") == "other");
  REQUIRE(m2.at("SERVER_PORT") == "81");
}

TEST_CASE("REQUEST_URI is Go's RequestURI()", "[bridge_cgi_env_test]") {
  struct Case {
    const char* path;
    const char* query;
    bool has_query;
    const char* uri;
  };
  const Case cases[] = {
      {"/", "", false, "/"},
      {"/x", "", true, "/x?"},  // a bare "?" is kept (Go's ForceQuery)
      {"/a'b", "", true, "/a'b?"},
      {"/\xc3\xbc", "x", true, "/%C3%BC?x"},
      {"/a#b", "", false, "/a%23b"},
      {"/%41", "q=%zz", true, "/%41?q=%zz"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    const auto m = as_map(build_child_env(make_request(c.path, c.query, c.has_query, "h"), make_facts("/"), {}));
    REQUIRE(m.at("REQUEST_URI") == c.uri);
  }
}

TEST_CASE("headers become HTTP_ variables", "[bridge_cgi_env_test]") {
  Request r = make_request("/", "", false, "h");
  r.headers = {{"Host", "h"},           {"X-A", "1"},        {"x-b", ""},          {"x-a", "2"},
               {"X_Under", "u1"},       {"X-Under", "u2"},   {"Proxy", "http://evil"}, {"hOsT", "again"},
               {"X.Dot", "skipped"},    {"X-Cr", "a\r\nb"},  {"X-Nul", std::string("a\0b", 3)},
               {"User-Agent", "  ua  "}};
  const auto env = build_child_env(r, make_facts("/"), {});
  const auto m = as_map(env);
  REQUIRE(m.at("HTTP_X_A") == "1, 2");  // repeats joined, as Go's header map
  REQUIRE(m.at("HTTP_X_B").empty());    // empty values are still passed
  REQUIRE(m.at("HTTP_X_UNDER") == "u2");  // X_Under and X-Under collide: the later name wins
  REQUIRE(m.count("HTTP_HOST") == 0);
  REQUIRE(m.count("HTTP_PROXY") == 0);  // httpoxy: deliberately not passed
  REQUIRE(m.count("HTTP_X.DOT") == 0);
  REQUIRE(m.at("HTTP_X_CR") == "a  b");
  REQUIRE(m.at("HTTP_X_NUL") == "a b");
  REQUIRE(m.at("HTTP_USER_AGENT") == "ua");
  const auto names = names_of(env);
  const auto first_http = std::find(names.begin(), names.end(), "HTTP_X_A");
  REQUIRE(std::vector<std::string>(first_http, names.end()) ==
          std::vector<std::string>{"HTTP_X_A", "HTTP_X_B", "HTTP_X_UNDER", "HTTP_X_CR", "HTTP_X_NUL", "HTTP_USER_AGENT"});
  for (const std::string& entry : env) REQUIRE(std::strlen(entry.c_str()) == entry.size());
}

TEST_CASE("the last duplicate wins in the first position", "[bridge_cgi_env_test]") {
  const EnvList passenv = capture_passenv("PATH,SERVER_SOFTWARE,REMOTE_ADDR,AUTH_TYPE", &fake_getenv);
  const auto env = build_child_env(make_request("/", "", false, "h"), make_facts("/"), passenv);
  const auto names = names_of(env);
  REQUIRE(std::vector<std::string>(names.begin(), names.begin() + 5) ==
          std::vector<std::string>{"SERVER_SOFTWARE", "PATH", "REMOTE_ADDR", "AUTH_TYPE", "REMOTE_HOST"});
  const auto m = as_map(env);
  REQUIRE(m.at("SERVER_SOFTWARE") == "custom/1");  // passenv comes later, so it overrides
  REQUIRE(m.at("REMOTE_ADDR") == "127.0.0.1");     // the request's value comes later still
  REQUIRE(m.at("AUTH_TYPE").empty());
}

TEST_CASE("capture_passenv follows websocketd's --passenv rules", "[bridge_cgi_env_test]") {
  SECTION("the default list") {
    const EnvList env = capture_passenv("PATH,LD_LIBRARY_PATH", &fake_getenv);
    REQUIRE(env == EnvList{{"PATH", "/usr/bin:/bin"}});  // empty LD_LIBRARY_PATH skipped
  }
  SECTION("HTTPS is never passed; unset, blank and untrimmed names are skipped") {
    const EnvList env = capture_passenv("HTTPS,UNSET,BLANK, PATH,PATH ,,SPACED", &fake_getenv);
    REQUIRE(env == EnvList{{" PATH", "leading-space-name"}, {"SPACED", "a  b"}});
  }
  SECTION("an empty list passes nothing") { REQUIRE(capture_passenv("", &fake_getenv).empty()); }
  SECTION("names with '=' are refused") { REQUIRE(capture_passenv("PATH=x", &fake_getenv).empty()); }
  SECTION("repeats are kept; build_child_env keeps one") {
    const EnvList env = capture_passenv("PATH,PATH", &fake_getenv);
    REQUIRE(env.size() == 2);
    const auto m = as_map(build_child_env(make_request("/", "", false, "h"), make_facts("/"), env));
    REQUIRE(m.at("PATH") == "/usr/bin:/bin");
  }
}

TEST_CASE("an underscore spelling never overrides the dash header a proxy set", "[bridge_cgi_env_test]") {
  using wsbridge::bridge::build_child_env;
  for (bool underscore_last : {true, false}) {
    wsbridge::http::Request request;
    request.method = "GET";
    request.target = "/";
    request.path = "/";
    request.headers.push_back({"Host", "h"});
    if (!underscore_last) request.headers.push_back({"X_Real_IP", "6.6.6.6"});
    request.headers.push_back({"X-Real-IP", "10.0.0.1"});
    if (underscore_last) request.headers.push_back({"X_Real_IP", "6.6.6.6"});
    request.headers.push_back({"X_Only_Underscore", "kept"});
    wsbridge::bridge::ConnectionFacts facts;
    auto env = build_child_env(request, facts, {});
    auto has = [&env](const std::string& entry) { return std::find(env.begin(), env.end(), entry) != env.end(); };
    CHECK(has("HTTP_X_REAL_IP=10.0.0.1"));
    CHECK_FALSE(has("HTTP_X_REAL_IP=6.6.6.6"));
    CHECK(has("HTTP_X_ONLY_UNDERSCORE=kept"));  // websocketd passes these; so do we
  }
}
