// Decides what a request is, in websocketd's dispatch order (reference
// §1.3): unclean paths are redirected first; an upgrade with COMMAND or
// --dir is a WebSocket endpoint; anything else is the dev console, a CGI
// script, a static file, or 404. Pure: the filesystem is seen through an
// FsView, and the connection code switches on the kind.
#pragma once
#include <string>

#include "wsbridge/cli/config.h"
#include "wsbridge/http/request.h"
#include "wsbridge/route/fs_view.h"

namespace wsbridge::route {

enum class RouteKind {
  WebSocketCommand,  // run config.command for this WebSocket
  WebSocketScript,   // --dir: run `file_path` (no arguments) for this WebSocket
  ScriptNotFound,    // --dir upgrade with no script there: 404 "404 Not Found\n"
  DevConsole,        // --devconsole page
  CgiScript,         // --cgidir: run `file_path` as a CGI/1.1 script
  StaticFile,        // --staticdir: send `file_path`
  Redirect,          // 301 to `location` (unclean path as Go's ServeMux, or a folder's slash)
  NotFound,          // 404 "404 page not found\n"
  Forbidden,         // 403, `message` says why
  MethodNotAllowed,  // 405 (static files are GET and HEAD only), `message` says why
  BadRequest,        // 400 (malformed percent-encoding in the path)
};

struct Route {
  RouteKind kind = RouteKind::NotFound;
  std::string script_name;  // SCRIPT_NAME
  std::string path_info;    // PATH_INFO (decoded)
  std::string file_path;    // script to run or file to send
  std::string location;     // Redirect target, escaped
  std::string message;      // Forbidden / MethodNotAllowed: what happened
};

// `config.dir`, `staticdir` and `cgidir` should be absolute (main makes
// them so at start-up).
Route route_request(const http::Request& request, const cli::Config& config, const FsView& fs);
// COMMAND mode only: nothing on disk is consulted.
Route route_request(const http::Request& request, const cli::Config& config);

}  // namespace wsbridge::route
