// A token bucket per address plus an open-connection count, in one table
// with a recency list for eviction. Every operation is O(1) on average,
// except eviction, which walks back from the least recent end past the
// addresses that still hold connections (few, when the table is sized to
// the connection limit).
#include "wsbridge/bridge/client_limits.h"

#include <algorithm>
#include <cmath>

namespace wsbridge::bridge {

ClientLimits::ClientLimits(ClientLimitSettings settings) : settings_(settings) {
  settings_.capacity = std::max<std::size_t>(settings_.capacity, 1);
}

void ClientLimits::touch(Entry& entry) {
  recent_.splice(recent_.begin(), recent_, entry.recent);
}

void ClientLimits::forget_one_idle() {
  for (auto it = recent_.end(); it != recent_.begin();) {
    --it;
    const auto found = entries_.find(*it);
    if (found->second.open == 0) {
      entries_.erase(found);
      recent_.erase(it);
      return;
    }
  }
}

ClientLimits::Entry& ClientLimits::find_or_make(const std::string& key, std::uint64_t now_ns) {
  const auto found = entries_.find(key);
  if (found != entries_.end()) {
    touch(found->second);
    return found->second;
  }
  if (entries_.size() >= settings_.capacity) forget_one_idle();
  recent_.push_front(key);
  Entry& entry = entries_[key];
  entry.recent = recent_.begin();
  entry.tokens = settings_.rate_per_second;  // a new client starts with a full burst
  entry.refilled_ns = now_ns;
  return entry;
}

ClientLimits::Decision ClientLimits::take_token(Entry& entry, std::uint64_t now_ns) {
  const double rate = settings_.rate_per_second;
  if (now_ns > entry.refilled_ns) {
    const double seconds = static_cast<double>(now_ns - entry.refilled_ns) / 1e9;
    entry.tokens = std::min(rate, entry.tokens + seconds * rate);
    entry.refilled_ns = now_ns;
  }
  if (entry.tokens >= 1.0) {
    entry.tokens -= 1.0;
    return {};
  }
  // Whole seconds until one token is back, as Retry-After wants.
  const double wait = (1.0 - entry.tokens) / rate;
  Decision decision;
  decision.verdict = Verdict::TooFast;
  decision.retry_after_seconds = static_cast<std::uint32_t>(std::max(1.0, std::ceil(wait)));
  return decision;
}

ClientLimits::Decision ClientLimits::admit(std::string_view key, std::uint64_t now_ns) {
  if (key.empty() || !enabled()) return {};
  std::lock_guard<std::mutex> lock(mutex_);
  Entry& entry = find_or_make(std::string(key), now_ns);
  if (settings_.max_open > 0 && entry.open >= settings_.max_open) {
    Decision decision;
    decision.verdict = Verdict::TooManyOpen;
    return decision;
  }
  if (settings_.rate_per_second > 0) {
    const Decision decision = take_token(entry, now_ns);
    if (decision.verdict != Verdict::Admitted) return decision;
  }
  ++entry.open;
  return {};
}

void ClientLimits::release(std::string_view key) {
  if (key.empty() || !enabled()) return;
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = entries_.find(std::string(key));
  // Always found: an entry with open connections is never forgotten.
  if (found != entries_.end() && found->second.open > 0) --found->second.open;
}

std::size_t ClientLimits::remembered() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return entries_.size();
}

int ClientLimits::open_count(std::string_view key) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = entries_.find(std::string(key));
  return found == entries_.end() ? 0 : found->second.open;
}

}  // namespace wsbridge::bridge
