// Go's net.SplitHostPort and websocketd's tellHostPort, shared by the CGI
// environment (SERVER_NAME/SERVER_PORT) and the origin checks, whose results
// depend on exactly which inputs Go treats as errors.
#pragma once
#include <optional>
#include <string_view>
#include <utility>

namespace wsbridge::bridge {

enum class SplitResult { Ok, MissingPort, Invalid };

// net.SplitHostPort: "[::1]:8080" → "::1" and "8080"; "h:" → "h" and "";
// no colon, or "[::1]" alone → MissingPort; "a:b:c", "[::1", "a]:1" → Invalid.
inline SplitResult split_host_port(std::string_view hostport, std::string_view& host, std::string_view& port) {
  const std::size_t last_colon = hostport.rfind(':');
  if (last_colon == std::string_view::npos) return SplitResult::MissingPort;
  std::size_t j = 0;  // no '[' may appear from here on
  std::size_t k = 0;  // no ']' may appear from here on
  if (hostport.front() == '[') {
    const std::size_t end = hostport.find(']');
    if (end == std::string_view::npos) return SplitResult::Invalid;
    if (end + 1 == hostport.size()) return SplitResult::MissingPort;
    if (end + 1 != last_colon) return hostport[end + 1] == ':' ? SplitResult::Invalid : SplitResult::MissingPort;
    host = hostport.substr(1, end - 1);
    j = 1;
    k = end + 1;
  } else {
    host = hostport.substr(0, last_colon);
    if (host.find(':') != std::string_view::npos) return SplitResult::Invalid;
  }
  if (hostport.find('[', j) != std::string_view::npos) return SplitResult::Invalid;
  if (hostport.find(']', k) != std::string_view::npos) return SplitResult::Invalid;
  port = hostport.substr(last_colon + 1);
  return SplitResult::Ok;
}

// websocketd's tellHostPort: a missing port means the scheme's default (80,
// or 443 for TLS) and the whole string is the host; other errors → nullopt.
inline std::optional<std::pair<std::string_view, std::string_view>> tell_host_port(std::string_view hostport,
                                                                                   bool tls) {
  std::string_view host;
  std::string_view port;
  switch (split_host_port(hostport, host, port)) {
    case SplitResult::Ok:
      return std::make_pair(host, port);
    case SplitResult::MissingPort:
      return std::make_pair(hostport, tls ? std::string_view("443") : std::string_view("80"));
    case SplitResult::Invalid:
      break;
  }
  return std::nullopt;
}

}  // namespace wsbridge::bridge
