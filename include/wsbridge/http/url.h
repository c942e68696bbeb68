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

// Escapes a decoded path the way Go's url.URL does when it prints one
// (shouldEscape with encodePath, upper-case hex): letters, digits and
// "-_.~$&+,/:;=@" stay, every other byte becomes %XX. websocketd's redirect
// Locations and REQUEST_URI are built this way.
std::string escape_path(std::string_view decoded);

// Go's URL.EscapedPath(): the path as the client sent it when that is a
// valid encoding, else escape_path(decoded). Used for REQUEST_URI.
std::string escaped_request_path(std::string_view raw, std::string_view decoded);

}  // namespace wsbridge::http
