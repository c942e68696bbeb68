#include "wsbridge/bridge/origin_policy.h"

#include <optional>

#include "bridge/host_port.h"
#include "wsbridge/http/url.h"

namespace wsbridge::bridge {
namespace {

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

// What websocketd uses of a parsed URL: the scheme (Go lower-cases it) and
// URL.Host ("host[:port]", brackets kept, userinfo removed).
struct ParsedUrl {
  std::string scheme;
  std::string_view host;
};

// Go's validOptionalPort: empty, or ':' followed by digits only.
bool is_optional_port(std::string_view port) noexcept {
  if (port.empty()) return true;
  if (port.front() != ':') return false;
  for (const char c : port.substr(1)) {
    if (!is_digit(c)) return false;
  }
  return true;
}

// The subset of Go's url.ParseRequestURI / url.Parse that decides whether
// websocketd accepts an Origin (or --origin entry) and what its host is.
// One simplification: Go decodes %-escapes in a host, we refuse them; no
// browser sends one in an Origin.
std::optional<ParsedUrl> parse_url(std::string_view text, bool via_request) {
  for (const char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return std::nullopt;  // control bytes
  }
  ParsedUrl url;
  std::string_view rest = text;
  // getScheme: letters first, then letters, digits, '+', '-', '.' up to ':'.
  if (!text.empty() && text.front() == ':') return std::nullopt;  // "missing protocol scheme"
  if (!text.empty() && is_alpha(text.front())) {
    std::size_t i = 1;
    while (i < text.size() && (is_alpha(text[i]) || is_digit(text[i]) || text[i] == '+' || text[i] == '-' ||
                               text[i] == '.')) {
      ++i;
    }
    if (i < text.size() && text[i] == ':') {
      for (std::size_t j = 0; j < i; ++j) url.scheme += ascii_lower(text[j]);
      rest = text.substr(i + 1);
    }
  }
  rest = rest.substr(0, rest.find('?'));
  if (rest.empty() || rest.front() != '/') {
    if (!url.scheme.empty()) return url;  // opaque ("file:", "mailto:x"): no host
    if (via_request) return std::nullopt;  // "invalid URI for request"
    return url;
  }
  std::string_view path = rest;
  if (!url.scheme.empty() && rest.substr(0, 2) == "//") {
    std::string_view authority = rest.substr(2);
    const std::size_t slash = authority.find('/');
    path = slash == std::string_view::npos ? std::string_view{} : authority.substr(slash);
    authority = authority.substr(0, slash);
    const std::size_t at = authority.rfind('@');
    if (at != std::string_view::npos) authority.remove_prefix(at + 1);
    if (authority.find('%') != std::string_view::npos) return std::nullopt;
    if (!authority.empty() && authority.front() == '[') {
      const std::size_t close = authority.find(']');
      if (close == std::string_view::npos) return std::nullopt;  // "missing ']' in host"
      if (!is_optional_port(authority.substr(close + 1))) return std::nullopt;
    } else {
      const std::size_t colon = authority.rfind(':');
      if (colon != std::string_view::npos && !is_optional_port(authority.substr(colon))) {
        return std::nullopt;  // "invalid port"
      }
    }
    url.host = authority;
  }
  if (!http::percent_decode_path(path)) return std::nullopt;  // bad escape in the path
  return url;
}

// tell_host_port, but a port-less bracketed IPv6 literal loses its brackets
// so "[::1]" compares equal to the "::1" that "[::1]:8080" gives. websocketd
// keeps them, so an --origin=[::1] entry never matches an origin with a
// port; that can only ever reject, so nobody can rely on it.
std::optional<std::pair<std::string_view, std::string_view>> host_and_port(std::string_view hostport, bool tls) {
  auto result = tell_host_port(hostport, tls);
  if (result && result->first.size() >= 2 && result->first.front() == '[' && result->first.back() == ']') {
    result->first = result->first.substr(1, result->first.size() - 2);
  }
  return result;
}

bool entry_matches(std::string_view allowed, const ParsedUrl& origin, std::string_view origin_server,
                   std::string_view origin_port) {
  const std::size_t scheme_end = allowed.find("://");
  if (scheme_end != std::string_view::npos && scheme_end > 0) {
    // An entry with a scheme must be a valid URL and name the origin's scheme.
    const auto parsed = parse_url(allowed, false);
    if (!parsed || parsed->scheme != origin.scheme) return false;
    allowed.remove_prefix(scheme_end + 3);  // the rest, path and all, as websocketd does
  }
  // The default port for an entry is always 80, whatever its scheme
  // (websocketd calls tellHostPort(allowed, false)).
  const auto allow = host_and_port(allowed, false);
  if (!allow) return false;
  if (allow->second == "80") {
    // websocketd reads allowed[len-3:] here and panics on entries shorter
    // than 3 bytes ("a", ""), dropping the connection; they match nothing.
    if (allowed.size() < 3) return false;
    // No port written in the entry: any port matches, host names must.
    if (allowed.substr(allowed.size() - 3) != ":80") return allow->first == origin_server;
  }
  return allow->first == origin_server && allow->second == origin_port;
}

}  // namespace

OriginPolicy make_origin_policy(std::string_view origin_flag, bool same_origin) {
  OriginPolicy policy;
  policy.same_origin = same_origin;
  // strings.Split without trimming: "a, b" gives " b", which matches nothing,
  // and a trailing comma gives an empty entry.
  if (!origin_flag.empty()) {
    while (true) {
      const std::size_t comma = origin_flag.find(',');
      policy.allowed.emplace_back(origin_flag.substr(0, comma));
      if (comma == std::string_view::npos) break;
      origin_flag.remove_prefix(comma + 1);
    }
  }
  return policy;
}

OriginVerdict check_origin(const OriginPolicy& policy, const std::string* origin, std::string_view host, bool tls) {
  // Open by default. (websocketd also refuses, even then, an Origin that Go
  // cannot parse, such as "foo bar"; browsers never send one and non-browser
  // clients gain nothing from it, so we do not copy that.)
  if (!policy.restricts()) return OriginVerdict::Allowed;
  const OriginVerdict refusal = policy.allowed.empty() ? OriginVerdict::SameOriginMismatch : OriginVerdict::NotListed;

  // A missing or empty Origin (curl, native clients) counts as "file:", and
  // so does "null" (file:// pages, sandboxed frames) unless a list is set;
  // with a list, "null" fails to parse and is refused.
  std::string_view value = origin != nullptr ? std::string_view(*origin) : std::string_view{};
  if (value.empty() || (value == "null" && policy.allowed.empty())) value = "file:";
  const auto parsed = parse_url(value, true);
  if (!parsed) return refusal;
  const auto origin_hp = host_and_port(parsed->host, parsed->scheme == "https");
  if (!origin_hp) return refusal;
  const auto [origin_server, origin_port] = *origin_hp;

  if (policy.same_origin) {
    // Host names compare case-sensitively, as in websocketd; the scheme
    // counts only through its default port.
    const auto local = host_and_port(host, tls);
    if (!local || local->first != origin_server || local->second != origin_port) {
      return OriginVerdict::SameOriginMismatch;
    }
  }
  if (!policy.allowed.empty()) {
    for (const std::string& allowed : policy.allowed) {
      if (entry_matches(allowed, *parsed, origin_server, origin_port)) return OriginVerdict::Allowed;
    }
    return OriginVerdict::NotListed;
  }
  return OriginVerdict::Allowed;
}

const char* describe(OriginVerdict verdict) noexcept {
  switch (verdict) {
    case OriginVerdict::Allowed:
      return "Origin allowed";
    case OriginVerdict::NotListed:
      return "Origin is not listed in allowed list";
    case OriginVerdict::SameOriginMismatch:
      return "Same origin policy mismatch";
  }
  return "Origin check failed";
}

}  // namespace wsbridge::bridge
