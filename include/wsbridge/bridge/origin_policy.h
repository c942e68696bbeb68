// websocketd's --origin / --sameorigin checks (http.go checkOrigin), with its
// quirks kept where users rely on them and its crashes removed.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge::bridge {

struct OriginPolicy {
  bool same_origin = false;
  std::vector<std::string> allowed;  // --origin split on ','; entries not trimmed
  bool restricts() const noexcept { return same_origin || !allowed.empty(); }
};

enum class OriginVerdict { Allowed, NotListed, SameOriginMismatch };

OriginPolicy make_origin_policy(std::string_view origin_flag, bool same_origin);

// origin: the Origin header or nullptr; host: the Host header; tls: request came over TLS.
OriginVerdict check_origin(const OriginPolicy& policy, const std::string* origin,
                           std::string_view host, bool tls);

// websocketd's log text for a rejection ("Origin is not listed in allowed list").
const char* describe(OriginVerdict verdict) noexcept;

}  // namespace wsbridge::bridge
