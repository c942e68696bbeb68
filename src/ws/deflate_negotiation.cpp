// permessage-deflate negotiation, server side (RFC 7692 §7.1). Each offer is
// read into the parameters it asks for; any parameter the RFC does not
// define, a repeated one, or a value outside its grammar declines that offer
// alone (§7.1: "the server MUST decline" it), and the next offer is tried.
#include "wsbridge/ws/deflate_negotiation.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <vector>

#include "wsbridge/ws/extension_offer.h"

namespace wsbridge::ws {
namespace {

constexpr std::uint8_t kMaxWindowBits = 15;
// zlib's raw deflate refuses an 8-bit window, so the server never asks a
// client for one and never compresses with less than 9 bits (see
// MessageDeflater for why a 9-bit compressor still fits an 8-bit window).
constexpr std::uint8_t kMinPreferredWindowBits = 9;

bool equals_ignoring_case(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// §7.1.2.1: "a decimal integer value without leading zeroes between 8 to 15".
std::optional<std::uint8_t> parse_window_bits(std::string_view value) noexcept {
  if (value.size() == 1 && (value[0] == '8' || value[0] == '9')) {
    return static_cast<std::uint8_t>(value[0] - '0');
  }
  if (value.size() == 2 && value[0] == '1' && value[1] >= '0' && value[1] <= '5') {
    return static_cast<std::uint8_t>(10 + (value[1] - '0'));
  }
  return std::nullopt;
}

// What one permessage-deflate offer asks for.
struct DeflateRequest {
  bool server_no_context_takeover = false;
  bool client_no_context_takeover = false;
  std::optional<std::uint8_t> server_max_window_bits;
  bool client_max_window_bits = false;  // the client lets the server choose
  std::optional<std::uint8_t> client_max_window_bits_value;
};

// Reads one offer's parameters; nullopt when the offer must be declined.
std::optional<DeflateRequest> read_request(const ExtensionOffer& offer) {
  DeflateRequest request;
  bool seen[4] = {false, false, false, false};
  for (const ExtensionOffer::Parameter& param : offer.parameters) {
    int which = -1;
    if (equals_ignoring_case(param.name, "server_no_context_takeover")) which = 0;
    if (equals_ignoring_case(param.name, "client_no_context_takeover")) which = 1;
    if (equals_ignoring_case(param.name, "server_max_window_bits")) which = 2;
    if (equals_ignoring_case(param.name, "client_max_window_bits")) which = 3;
    if (which < 0 || seen[which]) return std::nullopt;  // unknown or repeated
    seen[which] = true;
    if (which == 0 || which == 1) {
      if (param.has_value) return std::nullopt;  // these two take no value
      (which == 0 ? request.server_no_context_takeover : request.client_no_context_takeover) = true;
      continue;
    }
    // server_max_window_bits needs a value; client_max_window_bits may omit it.
    if (!param.has_value && which == 2) return std::nullopt;
    std::optional<std::uint8_t> bits;
    if (param.has_value) {
      bits = parse_window_bits(param.value);
      if (!bits) return std::nullopt;
    }
    if (which == 2) {
      request.server_max_window_bits = bits;
    } else {
      request.client_max_window_bits = true;
      request.client_max_window_bits_value = bits;
    }
  }
  return request;
}

std::uint8_t clamp_preference(std::uint8_t bits) noexcept {
  return std::clamp(bits, kMinPreferredWindowBits, kMaxWindowBits);
}

// The agreement and its response for an acceptable request.
DeflateNegotiation accept(const DeflateRequest& request, const DeflateSettings& settings) {
  DeflateNegotiation result;
  result.accepted = true;
  DeflateParameters& agreed = result.parameters;
  std::string& response = result.response;
  response = "permessage-deflate";

  agreed.server_no_context_takeover = request.server_no_context_takeover || settings.server_no_context_takeover;
  if (agreed.server_no_context_takeover) response += "; server_no_context_takeover";
  agreed.client_no_context_takeover = request.client_no_context_takeover || settings.client_no_context_takeover;
  if (agreed.client_no_context_takeover) response += "; client_no_context_takeover";

  // §7.1.2.1: a server_max_window_bits offered must be answered with the
  // same or a smaller value; unasked, the server just uses its own window,
  // which a client with a full 15-bit window can always follow.
  agreed.server_max_window_bits = clamp_preference(settings.server_max_window_bits);
  if (request.server_max_window_bits) {
    agreed.server_max_window_bits = std::min(agreed.server_max_window_bits, *request.server_max_window_bits);
    response += "; server_max_window_bits=" + std::to_string(agreed.server_max_window_bits);
  }

  // §7.1.2.2: client_max_window_bits may be answered only when offered, with
  // a value no larger than the client's own; unoffered, the client may use 15.
  agreed.client_max_window_bits = kMaxWindowBits;
  if (request.client_max_window_bits) {
    const std::uint8_t offered = request.client_max_window_bits_value.value_or(kMaxWindowBits);
    agreed.client_max_window_bits = std::min(offered, clamp_preference(settings.client_max_window_bits));
    if (agreed.client_max_window_bits < kMaxWindowBits || request.client_max_window_bits_value) {
      response += "; client_max_window_bits=" + std::to_string(agreed.client_max_window_bits);
    }
  }
  return result;
}

}  // namespace

DeflateNegotiation negotiate_deflate(std::string_view extensions_header, const DeflateSettings& settings) {
  if (!settings.enabled || extensions_header.empty()) return {};
  for (const ExtensionOffer& offer : parse_extension_offers(extensions_header)) {
    if (!offer.well_formed || !equals_ignoring_case(offer.name, "permessage-deflate")) continue;
    const std::optional<DeflateRequest> request = read_request(offer);
    if (request) return accept(*request, settings);
  }
  return {};
}

}  // namespace wsbridge::ws
