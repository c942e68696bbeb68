// --redirport: where a plain-HTTP request is sent to reach the TLS server.
#pragma once
#include <string>
#include <string_view>

#include "wsbridge/http/request.h"

namespace wsbridge::route {

// "https://<host>[:<port>]<target>": the host comes from the Host header
// without its port ([v6] kept in brackets), or `fallback_host` when the
// request has none; ":443" is left out. Unlike websocketd, which always
// redirects to "/" (and crashes on a Host without a port), the path and
// query are kept, so a bookmarked URL lands on the same page.
std::string https_redirect_location(const http::Request& request, int https_port,
                                    std::string_view fallback_host);

}  // namespace wsbridge::route
