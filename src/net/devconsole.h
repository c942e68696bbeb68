// The --devconsole response: the page of devconsole_page.h, answered to any
// plain request on any path (as websocketd does), with Last-Modified at the
// server's start so a browser can revalidate (304), and a Content-Security-
// Policy that allows nothing but the page's own inline code and WebSockets.
#pragma once
#include <string>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::net {

std::string format_devconsole_response(const http::Request& request, const std::vector<http::Header>& extra_headers);

}  // namespace wsbridge::net
