// One parsed HTTP/1.x request head: what the router, the handshake and the
// CGI environment builder read. Header names keep the case the client sent.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge::http {

struct Header {
  std::string name;
  std::string value;  // leading and trailing whitespace removed
};

struct Request {
  std::string method;      // e.g. "GET"
  int http_major = 1;
  int http_minor = 1;
  std::string target;      // the request-target exactly as sent, e.g. "/a%20b?x=1"
  std::string path;        // target up to '?', still percent-encoded
  std::string query;       // after the first '?', raw; empty when absent
  bool has_query = false;  // "?" present (even with an empty query)
  std::vector<Header> headers;  // in arrival order; repeated names kept

  // First header with this name, compared ASCII case-insensitively; nullptr if none.
  const std::string* find_header(std::string_view name) const noexcept;
  // All values of a repeated header joined with ", " (RFC 9110 §5.3); empty if none.
  std::string joined_header(std::string_view name) const;
  // True when a comma-separated header (every occurrence) contains `token`,
  // compared case-insensitively with surrounding whitespace ignored.
  bool header_has_token(std::string_view name, std::string_view token) const noexcept;
};

// ASCII case-insensitive equality, for header names and tokens.
bool iequals(std::string_view a, std::string_view b) noexcept;

}  // namespace wsbridge::http
