#include "wsbridge/bridge/cgi_env.h"

#include <optional>
#include <unordered_map>

#include "wsbridge/http/url.h"

namespace wsbridge::bridge {
namespace {

bool is_space(char c) noexcept {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// websocketd replaces CR and LF with spaces and trims (strings.TrimSpace).
// NUL is replaced too: an environment string ends at the first NUL, so it
// could only truncate the value (Go's exec would refuse to start the child).
std::string clean_value(std::string_view value) {
  std::string out(value);
  for (char& c : out) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  std::size_t begin = 0;
  std::size_t end = out.size();
  while (begin < end && is_space(out[begin])) ++begin;
  while (end > begin && is_space(out[end - 1])) --end;
  return out.substr(begin, end - begin);
}

bool is_env_header_name(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok) return false;
  }
  return true;
}

std::string header_env_name(std::string_view name) {
  std::string out = "HTTP_";
  for (const char c : name) {
    if (c == '-') {
      out += '_';
    } else if (c >= 'a' && c <= 'z') {
      out += static_cast<char>(c - 'a' + 'A');
    } else {
      out += c;
    }
  }
  return out;
}

// The host the request addressed, as Go's req.Host: the authority of an
// absolute-form target ("GET http://other/x") wins over the Host header.
std::string_view request_host(const http::Request& request) {
  const std::string_view target = request.target;
  const std::size_t scheme_end = target.find("://");
  if (!target.empty() && target.front() != '/' && scheme_end != std::string_view::npos) {
    std::string_view authority = target.substr(scheme_end + 3);
    authority = authority.substr(0, authority.find_first_of("/?"));
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);  // no userinfo
    return authority;
  }
  const std::string* host = request.find_header("Host");
  return host != nullptr ? std::string_view(*host) : std::string_view{};
}

enum class SplitResult { Ok, MissingPort, Invalid };

// Go's net.SplitHostPort, whose exact error cases decide SERVER_NAME and
// SERVER_PORT in websocketd (tellHostPort): "[::1]:8080" → "::1", "8080";
// a missing port keeps the whole string as the host; other errors
// ("a:b:c", unbalanced brackets) leave both empty.
SplitResult split_host_port(std::string_view hostport, std::string_view& host, std::string_view& port) {
  const std::size_t last_colon = hostport.rfind(':');
  if (last_colon == std::string_view::npos) return SplitResult::MissingPort;
  std::size_t j = 0;
  std::size_t k = 0;
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

// Keeps websocketd's (Go exec's) rule for a repeated name: the last value
// wins, in the position where the name first appeared.
class EnvBuilder {
 public:
  void set(std::string name, std::string value) {
    const auto found = index_.find(name);
    if (found != index_.end()) {
      entries_[found->second].second = std::move(value);
      return;
    }
    index_.emplace(name, entries_.size());
    entries_.emplace_back(std::move(name), std::move(value));
  }

  std::vector<std::string> finish() && {
    std::vector<std::string> out;
    out.reserve(entries_.size());
    for (auto& [name, value] : entries_) out.push_back(name + "=" + value);
    return out;
  }

 private:
  std::vector<std::pair<std::string, std::string>> entries_;
  std::unordered_map<std::string, std::size_t> index_;
};

}  // namespace

EnvList capture_passenv(std::string_view names, const char* (*lookup)(const char*)) {
  EnvList out;
  while (true) {
    const std::size_t comma = names.find(',');
    const std::string name(names.substr(0, comma));
    // HTTPS must only ever mean "this connection is TLS": websocketd refuses
    // to pass it through. A name with '=' cannot be a variable name.
    if (!name.empty() && name != "HTTPS" && name.find('=') == std::string::npos) {
      const char* raw = lookup(name.c_str());
      if (raw != nullptr && *raw != '\0') {
        std::string value = clean_value(raw);
        if (!value.empty()) out.emplace_back(name, std::move(value));
      }
    }
    if (comma == std::string_view::npos) break;
    names.remove_prefix(comma + 1);
  }
  return out;
}

std::vector<std::string> build_child_env(const http::Request& request, const ConnectionFacts& facts,
                                         const EnvList& passenv) {
  EnvBuilder env;
  env.set("SERVER_SOFTWARE", facts.server_software);
  // After SERVER_SOFTWARE, so a passed SERVER_SOFTWARE overrides it, and
  // before everything else, so nothing passed can fake a request variable.
  for (const auto& [name, value] : passenv) env.set(name, value);

  std::string_view server_name;
  std::string_view server_port;
  const std::string_view host = request_host(request);
  switch (split_host_port(host, server_name, server_port)) {
    case SplitResult::Ok:
      break;
    case SplitResult::MissingPort:
      // websocketd reports the scheme's default port, not the one we listen on.
      server_name = host;
      server_port = facts.tls ? "443" : "80";
      break;
    case SplitResult::Invalid:
      server_name = {};
      server_port = {};
      break;
  }

  const std::optional<std::string> decoded = http::percent_decode_path(request.path);
  // The router refuses undecodable paths; should one get here, the raw
  // path is a more useful PATH_TRANSLATED than nothing.
  const std::string decoded_path = decoded ? *decoded : request.path;

  env.set("REMOTE_ADDR", facts.remote_addr);
  env.set("REMOTE_HOST", facts.remote_host);
  env.set("SERVER_NAME", std::string(server_name));
  env.set("SERVER_PORT", std::string(server_port));
  env.set("SERVER_PROTOCOL",
          "HTTP/" + std::to_string(request.http_major) + "." + std::to_string(request.http_minor));
  env.set("GATEWAY_INTERFACE", "websocketd-CGI/0.1");
  env.set("REQUEST_METHOD", request.method);
  env.set("SCRIPT_NAME", facts.script_name);
  env.set("PATH_INFO", facts.path_info);
  // websocketd sets this to the decoded URL path, not a filesystem path
  // as RFC 3875 describes; scripts written for it expect that.
  env.set("PATH_TRANSLATED", decoded_path);
  env.set("QUERY_STRING", request.query);
  // Always present and empty, so nothing in the server's own environment
  // (or a passed variable) can pose as request data.
  env.set("AUTH_TYPE", "");
  env.set("CONTENT_LENGTH", "");
  env.set("CONTENT_TYPE", "");
  env.set("REMOTE_IDENT", "");
  env.set("REMOTE_USER", "");
  env.set("UNIQUE_ID", facts.unique_id);
  env.set("REMOTE_PORT", facts.remote_port);
  // Go's url.RequestURI(): escaped path, then "?" and the raw query when the
  // target had a "?" (an absolute-form target loses its scheme and host).
  std::string request_uri = http::escaped_request_path(request.path, decoded_path);
  if (request.has_query) {
    request_uri += '?';
    request_uri += request.query;
  }
  env.set("REQUEST_URI", std::move(request_uri));
  if (facts.tls) env.set("HTTPS", "on");

  // One variable per distinct header name, in order of first appearance,
  // with repeated headers joined. Host is left out as websocketd does (Go
  // moves it out of the header map). Proxy is left out deliberately
  // (websocketd passes it): HTTP_PROXY would be read by the child's HTTP
  // libraries as its proxy setting ("httpoxy", CVE-2016-5385).
  std::vector<std::string_view> seen;
  for (const http::Header& header : request.headers) {
    const std::string_view name = header.name;
    if (http::iequals(name, "Host") || http::iequals(name, "Proxy") || !is_env_header_name(name)) continue;
    bool repeated = false;
    for (const std::string_view earlier : seen) repeated = repeated || http::iequals(earlier, name);
    if (repeated) continue;
    seen.push_back(name);
    env.set(header_env_name(name), clean_value(request.joined_header(name)));
  }
  return std::move(env).finish();
}

}  // namespace wsbridge::bridge
