#include "wsbridge/bridge/cgi_env.h"

#include <optional>
#include <unordered_map>

#include "bridge/host_port.h"
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

  // From the Host header, not the socket: a Host without a port gives the
  // scheme's default port, not the one we listen on; an unparseable one
  // ("a:b:c") gives empty values (websocketd logs "Host port detection error").
  std::string_view server_name;
  std::string_view server_port;
  if (const auto host_port = tell_host_port(request_host(request), facts.tls)) {
    server_name = host_port->first;
    server_port = host_port->second;
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
  //
  // "X_Real_IP" and "X-Real-IP" both map to HTTP_X_REAL_IP. A proxy sets
  // the dash spelling (nginx even drops underscores); a client could add the
  // underscore one to override what the proxy said. So a name with '_' is
  // passed only when no dash-spelled header maps to the same variable.
  auto has_dash_twin = [&request](std::string_view underscored) {
    const std::string target = header_env_name(underscored);
    for (const http::Header& other : request.headers) {
      if (other.name.find('_') == std::string::npos && is_env_header_name(other.name) &&
          header_env_name(other.name) == target) {
        return true;
      }
    }
    return false;
  };
  std::vector<std::string_view> seen;
  for (const http::Header& header : request.headers) {
    const std::string_view name = header.name;
    if (http::iequals(name, "Host") || http::iequals(name, "Proxy") || !is_env_header_name(name)) continue;
    if (name.find('_') != std::string_view::npos && has_dash_twin(name)) continue;
    bool repeated = false;
    for (const std::string_view earlier : seen) repeated = repeated || http::iequals(earlier, name);
    if (repeated) continue;
    seen.push_back(name);
    env.set(header_env_name(name), clean_value(request.joined_header(name)));
  }
  return std::move(env).finish();
}

}  // namespace wsbridge::bridge
