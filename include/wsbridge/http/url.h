// URL path helpers with Go net/http semantics, which websocketd inherits.
#pragma once
#include <optional>
#include <string>
#include <string_view>

namespace wsbridge::http {

// Percent-decodes a path ("%20" → " "). '+' is left alone (it is only special
// in query strings). Returns nullopt for a malformed escape ("%4", "%zz").
std::optional<std::string> percent_decode_path(std::string_view encoded);

// Lexically cleans a decoded path like Go's path.Clean used by http.ServeMux:
// collapses "//", removes "." and resolves ".." without climbing above "/",
// keeps a trailing slash. Always starts with "/".
std::string clean_path(std::string_view path);

}  // namespace wsbridge::http
