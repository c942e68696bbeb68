#include "wsbridge/route/router.h"

#include <optional>
#include <string_view>

#include "wsbridge/http/url.h"
#include "wsbridge/route/script_path.h"
#include "wsbridge/route/static_path.h"
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

std::string redirect_location(std::string_view decoded, const http::Request& request) {
  std::string location = http::escape_path(decoded);
  if (!request.query.empty()) {
    location += '?';
    append_query(location, request.query);
  }
  return location;
}

Route refuse(RouteKind kind, std::string message) {
  Route route = make(kind);
  route.message = std::move(message);
  return route;
}

// --staticdir: Go's FileServer rules, minus listings and dotfiles.
Route route_static(const http::Request& request, const cli::Config& config, const std::string& decoded,
                   const FsView& fs) {
  if (request.method != "GET" && request.method != "HEAD") {
    return refuse(RouteKind::MethodNotAllowed, "static files can only be fetched with GET or HEAD");
  }
  StaticMatch match;
  switch (find_static_file(config.staticdir, config.cgidir, decoded, fs, match)) {
    case StaticLookup::File: {
      // --dir scripts are programs, like CGI scripts: when the folders
      // overlap, their source is not handed out.
      if (!config.dir.empty()) {
        const std::optional<std::string> real_dir = fs.real_path(config.dir);
        if (real_dir && is_within(match.file_path, *real_dir)) {
          return refuse(RouteKind::Forbidden, "this file is a --dir script; scripts are run, never sent");
        }
      }
      Route route = make(RouteKind::StaticFile);
      route.file_path = std::move(match.file_path);
      return route;
    }
    case StaticLookup::AddSlash:
    case StaticLookup::IndexRedirect:
    case StaticLookup::DropSlash: {
      Route route = make(RouteKind::Redirect);
      route.location = redirect_location(match.location, request);
      return route;
    }
    case StaticLookup::NotFound:
      return make(RouteKind::NotFound);
    case StaticLookup::Hidden:
      return refuse(RouteKind::Forbidden, "files and folders whose name starts with '.' are not served");
    case StaticLookup::NoListing:
      return refuse(RouteKind::Forbidden, "this folder has no index.html and folder listings are not served");
    case StaticLookup::CgiSource:
      return refuse(RouteKind::Forbidden, "this file is a CGI script; scripts are run, never sent");
    case StaticLookup::NotRegular:
      return refuse(RouteKind::Forbidden, "not a regular file");
  }
  return make(RouteKind::NotFound);
}

}  // namespace

Route route_request(const http::Request& request, const cli::Config& config) {
  return route_request(request, config, EmptyFsView{});
}

Route route_request(const http::Request& request, const cli::Config& config, const FsView& fs) {
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
  // would send 101 and then drop the connection), nor be part of a file
  // name. Refuse it up front.
  if (decoded->find('\0') != std::string::npos) return make(RouteKind::BadRequest);

  // Go's ServeMux redirects every unclean path, upgrade requests included,
  // keeping a non-empty query and dropping a bare "?". After this no path
  // has "..", "." or empty segments, encoded or not.
  const std::string cleaned = http::clean_path(*decoded);
  if (cleaned != *decoded) {
    Route route = make(RouteKind::Redirect);
    // url.URL.String() escapes the path, so "/b!" becomes "/b%21".
    route.location = redirect_location(cleaned, request);
    return route;
  }

  // The WebSocket branch: COMMAND runs for every path; --dir looks for a
  // script along the path.
  if ((!config.command.empty() || !config.dir.empty()) && ws::is_websocket_upgrade(request)) {
    if (!config.command.empty()) {
      Route route = make(RouteKind::WebSocketCommand);
      route.script_name = "/";
      route.path_info = *decoded;
      return route;
    }
    ScriptMatch match;
    if (find_script(config.dir, *decoded, fs, match) != ScriptLookup::Found) {
      return make(RouteKind::ScriptNotFound);
    }
    Route route = make(RouteKind::WebSocketScript);
    route.file_path = std::move(match.file_path);
    route.script_name = std::move(match.script_name);
    route.path_info = std::move(match.path_info);
    return route;
  }

  // Plain HTTP, in websocketd's order: the console answers every path; a
  // CGI script is run when one is found; static files answer the rest.
  if (config.devconsole) return make(RouteKind::DevConsole);
  if (!config.cgidir.empty()) {
    ScriptMatch match;
    if (find_script(config.cgidir, *decoded, fs, match) == ScriptLookup::Found) {
      Route route = make(RouteKind::CgiScript);
      route.file_path = std::move(match.file_path);
      route.script_name = std::move(match.script_name);
      route.path_info = std::move(match.path_info);
      return route;
    }
  }
  if (!config.staticdir.empty()) return route_static(request, config, *decoded, fs);
  return make(RouteKind::NotFound);
}

}  // namespace wsbridge::route
