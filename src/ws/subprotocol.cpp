#include "wsbridge/ws/subprotocol.h"

#include <algorithm>

namespace wsbridge::ws {
namespace {

constexpr std::string_view kHeader = "Sec-WebSocket-Protocol";

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::vector<std::string_view> offered_subprotocols(const http::Request& request) {
  std::vector<std::string_view> offered;
  for (const http::Header& header : request.headers) {
    if (!http::iequals(header.name, kHeader)) continue;
    std::string_view rest = header.value;
    while (!rest.empty()) {
      const std::size_t comma = rest.find(',');
      std::string_view item = trim(rest.substr(0, comma));
      if (!item.empty()) offered.push_back(item);
      if (comma == std::string_view::npos) break;
      rest.remove_prefix(comma + 1);
    }
  }
  return offered;
}

SubprotocolChoice choose_subprotocol(const std::vector<std::string>& supported, const http::Request& request) {
  const std::vector<std::string_view> offered = offered_subprotocols(request);
  if (offered.empty()) return {SubprotocolOutcome::NoneOffered, {}};
  if (supported.empty()) return {SubprotocolOutcome::NotNegotiated, {}};
  for (const std::string& candidate : supported) {
    if (std::find(offered.begin(), offered.end(), candidate) != offered.end()) {
      return {SubprotocolOutcome::Chosen, candidate};
    }
  }
  return {SubprotocolOutcome::NotSupported, {}};
}

bool is_subprotocol_token(std::string_view name) noexcept {
  if (name.empty()) return false;
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={} \t";
  return std::all_of(name.begin(), name.end(), [&](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte > 0x20 && byte < 0x7f && kSeparators.find(c) == std::string_view::npos;
  });
}

}  // namespace wsbridge::ws
