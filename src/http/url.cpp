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

// Go's shouldEscape(c, encodePath) is false for exactly these bytes.
bool is_path_safe(unsigned char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '-': case '_': case '.': case '~':
    case '$': case '&': case '+': case ',': case '/': case ':': case ';': case '=': case '@':
      return true;
    default:
      return false;
  }
}

// Go's validEncoded(s, encodePath): RFC 3986 pchar plus '/', '[', ']' and
// '%', so a raw path the client chose to leave partly unescaped ("/a!b")
// is reported as sent rather than normalised.
bool is_valid_encoded_path(std::string_view raw) noexcept {
  for (const char ch : raw) {
    const auto c = static_cast<unsigned char>(ch);
    switch (c) {
      case '!': case '$': case '&': case '\'': case '(': case ')': case '*': case '+':
      case ',': case ';': case '=': case ':': case '@': case '[': case ']': case '%':
        continue;
      default:
        if (!is_path_safe(c)) return false;
    }
  }
  return true;
}

}  // namespace

std::string escape_path(std::string_view decoded) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(decoded.size());
  for (const char ch : decoded) {
    const auto c = static_cast<unsigned char>(ch);
    if (is_path_safe(c)) {
      out += ch;
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 0x0F];
    }
  }
  return out;
}

std::string escaped_request_path(std::string_view raw, std::string_view decoded) {
  if (is_valid_encoded_path(raw)) return std::string(raw);
  return escape_path(decoded);
}

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
