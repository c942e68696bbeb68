#include "wsbridge/route/https_redirect.h"

namespace wsbridge::route {
namespace {

// "example.com:8080" → "example.com"; "[::1]:8080" → "[::1]"; "[::1]" → "[::1]".
std::string_view host_without_port(std::string_view host) {
  if (!host.empty() && host.front() == '[') {
    std::size_t close = host.find(']');
    return close == std::string_view::npos ? host : host.substr(0, close + 1);
  }
  std::size_t colon = host.find(':');
  return colon == std::string_view::npos ? host : host.substr(0, colon);
}

bool is_safe_host(std::string_view host) {
  // Only what can appear in a host name or an IP literal: the value goes
  // into a Location header.
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
              c == '.' || c == '[' || c == ']' || c == ':' || c == '_';
    if (!ok) return false;
  }
  return !host.empty();
}

}  // namespace

std::string https_redirect_location(const http::Request& request, int https_port,
                                    std::string_view fallback_host) {
  const std::string* host_header = request.find_header("Host");
  std::string_view host = host_header ? host_without_port(*host_header) : std::string_view();
  if (!is_safe_host(host)) host = fallback_host;
  std::string location = "https://";
  location.append(host);
  if (https_port != 443) location += ":" + std::to_string(https_port);
  // An absolute-form or asterisk target has no path of ours to keep.
  if (!request.target.empty() && request.target.front() == '/') {
    location.append(request.target);
  } else {
    location.push_back('/');
  }
  return location;
}

}  // namespace wsbridge::route
