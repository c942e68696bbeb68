// Child output in line mode goes out in text frames, which RFC 6455 requires
// to be valid UTF-8. websocketd sends invalid bytes anyway and browsers then
// fail the connection; we replace each maximal invalid subsequence with
// U+FFFD (the WHATWG decoder's rule) so the connection survives.
#pragma once
#include <string>
#include <string_view>

namespace wsbridge::bridge {

// Returns `text` itself when it is valid UTF-8; otherwise writes the repaired
// text into `scratch` and returns a view of it.
std::string_view sanitize_utf8(std::string_view text, std::string& scratch);

}  // namespace wsbridge::bridge
