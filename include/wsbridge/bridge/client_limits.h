// Per-client admission (--maxconn-per-client, --connect-rate): how many
// connections one client address holds open, and how fast it may open new
// ones (a token bucket: `rate` tokens a second, at most `rate` saved up).
// Shared by every worker loop, so it takes a lock; it is used twice per
// connection (admit, release), never on the message path.
//
// Memory is bounded: the table holds at most `capacity` addresses. When it
// is full, the address seen least recently that holds no open connection is
// forgotten (its bucket starts full again if it returns), so a flood of
// distinct addresses costs a fixed amount. Addresses with open connections
// are never forgotten; the caller sizes the table to at least the number of
// connections the process can hold, so there is always one to forget.
#pragma once
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>

namespace wsbridge::bridge {

struct ClientLimitSettings {
  int max_open = 0;             // connections open at once per client; 0 = no limit
  std::uint32_t rate_per_second = 0;  // new connections per second per client; 0 = no limit
  std::size_t capacity = 65536;  // client addresses remembered at most
};

class ClientLimits {
 public:
  enum class Verdict : std::uint8_t {
    Admitted,     // counted as open: call release() when it closes
    TooManyOpen,  // max_open already reached
    TooFast,      // the bucket is empty; retry_after_seconds says when a token is back
  };
  struct Decision {
    Verdict verdict = Verdict::Admitted;
    std::uint32_t retry_after_seconds = 0;  // TooFast only, at least 1
  };

  explicit ClientLimits(ClientLimitSettings settings);

  bool enabled() const noexcept { return settings_.max_open > 0 || settings_.rate_per_second > 0; }

  // A new connection from `key` (bridge::client_key) at `now_ns` (a
  // monotonic clock). An empty key is always admitted and never counted.
  Decision admit(std::string_view key, std::uint64_t now_ns);
  // A connection admit() counted has closed.
  void release(std::string_view key);

  // For tests and metrics.
  std::size_t remembered() const;
  int open_count(std::string_view key) const;

 private:
  struct Entry {
    int open = 0;
    double tokens = 0;
    std::uint64_t refilled_ns = 0;
    std::list<std::string>::iterator recent;  // position in recent_
  };
  Entry& find_or_make(const std::string& key, std::uint64_t now_ns);
  void touch(Entry& entry);
  void forget_one_idle();
  Decision take_token(Entry& entry, std::uint64_t now_ns);

  ClientLimitSettings settings_;
  mutable std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::list<std::string> recent_;  // most recently seen first
};

}  // namespace wsbridge::bridge
