// Fuzzes the request path a connection runs before any child exists: the
// llhttp-based request parser, the WebSocket handshake checks, the router,
// the child environment built from the parsed request, and the response
// formatting that echoes request data back (redirect Location).
// Invariants: the parse result (status, bytes consumed, request fields,
// error status) does not depend on how the bytes were split; the configured
// limits hold; error statuses are the documented ones; a redirect Location
// and every response head are free of CR/LF injection; the environment is
// made of well-formed "NAME=value" strings.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/cli/config.h"
#include "wsbridge/http/request_parser.h"
#include "wsbridge/http/response.h"
#include "wsbridge/route/router.h"
#include "wsbridge/ws/handshake.h"

using wsbridge::fuzz::FuzzInput;
namespace http = wsbridge::http;

namespace {

struct ParseResult {
  http::RequestParser::Status status = http::RequestParser::Status::NeedMore;
  std::size_t consumed = 0;  // bytes of the input that belonged to the head
  int error_status = 0;
  std::string flat;          // the parsed request, flattened for comparison
};

std::string flatten(const http::Request& r) {
  std::string out = r.method + '\n' + std::to_string(r.http_major) + '.' + std::to_string(r.http_minor) + '\n' +
                    r.target + '\n' + r.path + '\n' + r.query + '\n' + (r.has_query ? "?" : "-") + '\n';
  for (const http::Header& h : r.headers) out += h.name + '\0' + h.value + '\n';
  return out;
}

ParseResult parse(const std::string& input, const std::vector<std::size_t>& ends, const http::ParserLimits& limits,
                  http::Request* keep) {
  http::RequestParser parser(limits);
  ParseResult result;
  std::size_t begin = 0;
  for (const std::size_t end : ends) {
    std::size_t used = 0;
    result.status = parser.feed(input.data() + begin, end - begin, used);
    FUZZ_CHECK(used <= end - begin);
    result.consumed += used;
    if (result.status != http::RequestParser::Status::NeedMore) break;
    FUZZ_CHECK(used == end - begin);  // NeedMore means all of it was taken
    begin = end;
  }
  if (result.status == http::RequestParser::Status::Error) {
    result.error_status = parser.error_status();
    const int s = result.error_status;
    FUZZ_CHECK(s == 400 || s == 414 || s == 431 || s == 501 || s == 505);
    // Only the error matters; what was half-parsed is not compared.
    return result;
  }
  const http::Request& request = parser.request();
  if (result.status == http::RequestParser::Status::Complete) {
    FUZZ_CHECK(request.headers.size() <= limits.max_headers);
    FUZZ_CHECK(request.target.size() <= limits.max_target_bytes);
    FUZZ_CHECK(result.consumed <= limits.max_head_bytes);
    FUZZ_CHECK(request.http_major == 1);
    result.flat = flatten(request);
    if (keep != nullptr) *keep = request;
  } else {
    FUZZ_CHECK(result.consumed < limits.max_head_bytes);
  }
  return result;
}

bool has_cr_or_lf(std::string_view s) { return s.find_first_of("\r\n") != std::string_view::npos; }

// A response head must have exactly one blank line, at its end: no header
// value may smuggle in a line break of its own.
void check_response_head(const std::string& response, std::size_t body_size) {
  const std::size_t blank = response.find("\r\n\r\n");
  FUZZ_CHECK(blank != std::string::npos);
  FUZZ_CHECK(blank + 4 + body_size == response.size());
  const std::string_view head(response.data(), blank + 2);
  for (std::size_t at = 0; at < head.size();) {
    const std::size_t eol = head.find("\r\n", at);
    FUZZ_CHECK(eol != std::string_view::npos && eol > at);
    FUZZ_CHECK(!has_cr_or_lf(head.substr(at, eol - at)));
    at = eol + 2;
  }
}

void check_env(const std::vector<std::string>& env) {
  for (const std::string& entry : env) {
    const std::size_t eq = entry.find('=');
    FUZZ_CHECK(eq != std::string::npos && eq > 0);
    FUZZ_CHECK(entry.find('\0') == std::string::npos);
    const std::string_view name(entry.data(), eq);
    // The decoded path may hold any byte but NUL ("%0A" is a line feed),
    // as in websocketd; every other value is single-line.
    if (name != "PATH_INFO" && name != "PATH_TRANSLATED") FUZZ_CHECK(!has_cr_or_lf(entry));
    FUZZ_CHECK(name != "HTTP_PROXY" && name != "HTTP_HOST" && name != "HTTPS");
    for (const char c : name) FUZZ_CHECK((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_');
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const auto [limit_choice, chunking, input] = FuzzInput(data, size).take_limit_chunking_data();

  // Small limits too, so the fuzzer reaches them with short inputs.
  http::ParserLimits limits;
  if (limit_choice & 1) {
    limits.max_head_bytes = 64 + (limit_choice >> 1);
    limits.max_headers = limit_choice % 5;
    limits.max_target_bytes = 1 + limit_choice % 23;
  }

  http::Request request;
  const ParseResult whole = parse(input, {input.size()}, limits, &request);
  const ParseResult split = parse(input, chunking.split_ends(input.size()), limits, nullptr);
  FUZZ_CHECK(whole.status == split.status);
  if (whole.error_status != split.error_status) {
    // A head that breaks two rules (a target over the limit that also holds
    // a bad byte further on) may be refused for either, depending on where
    // llhttp's callbacks fell; both are refusals of a malformed or oversized
    // head. Every other status (501, 505) must not depend on the split.
    const auto malformed = [](int s) { return s == 400 || s == 414 || s == 431; };
    FUZZ_CHECK(malformed(whole.error_status) && malformed(split.error_status));
  }
  if (whole.status == http::RequestParser::Status::Complete) {
    FUZZ_CHECK(whole.consumed == split.consumed);
    FUZZ_CHECK(whole.flat == split.flat);
  }
  if (whole.status != http::RequestParser::Status::Complete) {
    if (whole.status == http::RequestParser::Status::Error) {
      check_response_head(http::format_response(whole.error_status, {}, "bad request\n"), 12);
    }
    return 0;
  }

  // The handshake: the checks and their statuses.
  const wsbridge::ws::HandshakeError error = wsbridge::ws::check_handshake(request);
  const int status = wsbridge::ws::http_status_for(error);
  FUZZ_CHECK(wsbridge::ws::describe(error) != nullptr);
  if (error == wsbridge::ws::HandshakeError::None) {
    FUZZ_CHECK(wsbridge::ws::is_websocket_upgrade(request));
    const std::string* key = request.find_header("Sec-WebSocket-Key");
    FUZZ_CHECK(key != nullptr);
    const std::string accept = wsbridge::ws::compute_accept_key(*key);
    FUZZ_CHECK(accept.size() == 28);
    check_response_head(http::format_switching_protocols(accept, request.headers), 0);
  } else {
    FUZZ_CHECK(status == 400 || status == 405 || status == 426);
  }

  // The router, in COMMAND mode and with no command.
  wsbridge::cli::Config config;
  config.command = (limit_choice & 2) ? "/bin/cat" : "";
  const wsbridge::route::Route route = wsbridge::route::route_request(request, config);
  if (route.kind == wsbridge::route::RouteKind::Redirect) {
    FUZZ_CHECK(!route.location.empty() && route.location.front() == '/');
    FUZZ_CHECK(!has_cr_or_lf(route.location));
    check_response_head(http::format_response(301, {{"Location", route.location}}, ""), 0);
  }
  if (route.kind == wsbridge::route::RouteKind::WebSocketCommand) {
    FUZZ_CHECK(route.path_info.find('\0') == std::string::npos);
    wsbridge::bridge::ConnectionFacts facts;
    facts.remote_addr = "127.0.0.1";
    facts.remote_host = "127.0.0.1";
    facts.remote_port = "40000";
    facts.script_name = route.script_name;
    facts.path_info = route.path_info;
    facts.unique_id = "1";
    facts.server_software = "wsbridge/fuzz";
    check_env(wsbridge::bridge::build_child_env(request, facts, {}));
  }
  // Echoing arbitrary request headers back must never break the head.
  check_response_head(http::format_response(404, request.headers, "x"), 1);
  return 0;
}
