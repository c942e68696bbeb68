// Decides what a request is. Pure: no I/O beyond what the config says.
// Later work adds --dir scripts, static files, CGI and the dev console as new
// RouteKind values; the connection code switches on the kind.
#pragma once
#include <string>

#include "wsbridge/cli/config.h"
#include "wsbridge/http/request.h"

namespace wsbridge::route {

enum class RouteKind {
  WebSocketCommand,  // run config.command for this WebSocket
  Redirect,          // 301 to `location` (unclean path, as Go's ServeMux)
  NotFound,          // 404 "404 page not found\n"
  BadRequest,        // 400 (malformed percent-encoding in the path)
};

struct Route {
  RouteKind kind = RouteKind::NotFound;
  std::string script_name;  // SCRIPT_NAME
  std::string path_info;    // PATH_INFO (decoded)
  std::string location;     // Redirect target
};

Route route_request(const http::Request& request, const cli::Config& config);

}  // namespace wsbridge::route
