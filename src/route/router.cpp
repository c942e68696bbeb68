#include "wsbridge/route/router.h"

#include <optional>
#include <string_view>

#include "wsbridge/http/url.h"
#include "wsbridge/ws/handshake.h"

namespace wsbridge::route {
namespace {

Route make(RouteKind kind) {
  Route route;
  route.kind = kind;
  return route;
}

// Go escapes the non-ASCII bytes of a redirect's query with lower-case hex
// (http.hexEscapeNonASCII uses strconv.AppendInt(.., 16)), unlike the
// upper-case hex of the path; kept for byte-identical Location headers.
void append_escaped(std::string& out, unsigned char c) {
  static constexpr char kLowerHex[] = "0123456789abcdef";
  out += '%';
  out += kLowerHex[c >> 4];
  out += kLowerHex[c & 0x0F];
}

// The raw query goes into Location as sent, except that bytes outside ASCII
// are %-escaped, as Go's http.Redirect (hexEscapeNonASCII) does.
void append_query(std::string& out, std::string_view query) {
  for (const char ch : query) {
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x80) {
      append_escaped(out, c);
    } else {
      out += ch;
    }
  }
}

// Go's server refuses an HTTP/1.1 request without exactly one Host header
// (400 "missing required Host header" / "too many Host headers") before any
// handler runs, for upgrades and plain requests alike; CONNECT is exempt.
bool has_valid_host(const http::Request& request) {
  if (request.method == "CONNECT") return true;
  std::size_t hosts = 0;
  for (const http::Header& header : request.headers) {
    if (http::iequals(header.name, "Host")) ++hosts;
  }
  if (hosts > 1) return false;
  const bool needs_host = request.http_major > 1 || (request.http_major == 1 && request.http_minor >= 1);
  return hosts == 1 || !needs_host;
}

}  // namespace

Route route_request(const http::Request& request, const cli::Config& config) {
  if (!has_valid_host(request)) return make(RouteKind::BadRequest);

  // An authority-form CONNECT target ("host:443") never matches ServeMux's
  // "/" pattern, so websocketd answers 404 without cleaning it.
  if (request.method == "CONNECT") return make(RouteKind::NotFound);

  // The parser has already reduced absolute-form targets to their path
  // (possibly empty); anything else that is not "/..." ("*", "a/b") is a
  // request Go's server rejects with 400.
  if (!request.path.empty() && request.path.front() != '/') return make(RouteKind::BadRequest);

  const std::optional<std::string> decoded = http::percent_decode_path(request.path);
  if (!decoded) return make(RouteKind::BadRequest);
  // "%00" decodes to a NUL, which cannot be passed in PATH_INFO (an
  // environment string ends at NUL; Go's exec refuses it, so websocketd
  // would send 101 and then drop the connection). Refuse it up front.
  if (decoded->find('\0') != std::string::npos) return make(RouteKind::BadRequest);

  // Go's ServeMux redirects every unclean path, upgrade requests included,
  // keeping a non-empty query and dropping a bare "?".
  const std::string cleaned = http::clean_path(*decoded);
  if (cleaned != *decoded) {
    Route route = make(RouteKind::Redirect);
    // url.URL.String() escapes the path, so "/b!" becomes "/b%21".
    route.location = http::escape_path(cleaned);
    if (!request.query.empty()) {
      route.location += '?';
      append_query(route.location, request.query);
    }
    return route;
  }

  // COMMAND mode: every path runs the same command. Without a command (the
  // --dir, static and CGI modes come later) nothing matches yet.
  if (!config.command.empty() && ws::is_websocket_upgrade(request)) {
    Route route = make(RouteKind::WebSocketCommand);
    route.script_name = "/";
    route.path_info = *decoded;
    return route;
  }
  return make(RouteKind::NotFound);
}

}  // namespace wsbridge::route
