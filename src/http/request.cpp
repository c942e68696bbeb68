#include "wsbridge/http/request.h"

namespace wsbridge::http {
namespace {

char ascii_lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool is_list_space(char c) noexcept { return c == ' ' || c == '\t'; }

// True when the comma-separated list `list` has an element equal to `token`
// (case-insensitive, optional whitespace around elements ignored, empty
// elements skipped as RFC 9110 §5.6.1 asks recipients to do).
bool list_has_token(std::string_view list, std::string_view token) noexcept {
  while (!list.empty()) {
    const std::size_t comma = list.find(',');
    std::string_view element = list.substr(0, comma);
    while (!element.empty() && is_list_space(element.front())) element.remove_prefix(1);
    while (!element.empty() && is_list_space(element.back())) element.remove_suffix(1);
    if (!element.empty() && iequals(element, token)) return true;
    if (comma == std::string_view::npos) break;
    list.remove_prefix(comma + 1);
  }
  return false;
}

}  // namespace

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

const std::string* Request::find_header(std::string_view name) const noexcept {
  for (const Header& header : headers) {
    if (iequals(header.name, name)) return &header.value;
  }
  return nullptr;
}

std::string Request::joined_header(std::string_view name) const {
  std::string joined;
  bool first = true;
  for (const Header& header : headers) {
    if (!iequals(header.name, name)) continue;
    if (!first) joined += ", ";
    joined += header.value;
    first = false;
  }
  return joined;
}

bool Request::header_has_token(std::string_view name, std::string_view token) const noexcept {
  for (const Header& header : headers) {
    if (iequals(header.name, name) && list_has_token(header.value, token)) return true;
  }
  return false;
}

}  // namespace wsbridge::http
