#include "wsbridge/http/url.h"

#include <vector>

namespace wsbridge::http {
namespace {

int hex_value(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Go's path.Clean for a rooted path: the result never has "//", "." or ".."
// segments and never climbs above "/". A trailing slash is dropped here and
// put back by clean_path, as net/http's cleanPath does.
std::string clean_rooted(std::string_view path) {
  std::vector<std::string_view> segments;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    std::size_t slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    const std::string_view segment = path.substr(pos, slash - pos);
    pos = slash + 1;
    if (segment.empty() || segment == ".") continue;
    if (segment == "..") {
      // A rooted path cannot climb above "/": extra ".." are dropped.
      if (!segments.empty()) segments.pop_back();
      continue;
    }
    segments.push_back(segment);
  }
  std::string cleaned;
  cleaned.reserve(path.size());
  for (const std::string_view segment : segments) {
    cleaned += '/';
    cleaned += segment;
  }
  if (cleaned.empty()) cleaned = "/";
  return cleaned;
}

}  // namespace

std::optional<std::string> percent_decode_path(std::string_view encoded) {
  std::string decoded;
  decoded.reserve(encoded.size());
  for (std::size_t i = 0; i < encoded.size(); ++i) {
    const char c = encoded[i];
    if (c != '%') {
      decoded += c;
      continue;
    }
    // Go's url.PathUnescape rejects a '%' not followed by two hex digits,
    // and net/http then answers 400; we report it the same way.
    if (i + 2 >= encoded.size()) return std::nullopt;
    const int high = hex_value(encoded[i + 1]);
    const int low = hex_value(encoded[i + 2]);
    if (high < 0 || low < 0) return std::nullopt;
    decoded += static_cast<char>((high << 4) | low);
    i += 2;
  }
  return decoded;
}

std::string clean_path(std::string_view path) {
  // net/http's cleanPath: an empty path is "/", a relative one is rooted.
  std::string rooted;
  if (path.empty() || path.front() != '/') rooted = "/";
  rooted.append(path.data(), path.size());
  std::string cleaned = clean_rooted(rooted);
  // path.Clean drops a trailing slash; ServeMux keeps it so "/dir/" stays a
  // directory-style URL instead of redirecting to "/dir".
  if (rooted.back() == '/' && cleaned != "/") cleaned += '/';
  return cleaned;
}

}  // namespace wsbridge::http
