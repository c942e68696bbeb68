// What every connection of one event loop shares: the configuration resolved
// at start-up, the fork counter, and scratch buffers that belong to the loop
// rather than to connections (design.md rule 7), so an idle connection costs
// only its own state. main() fills in one; each worker loop (--workers) gets
// a copy, and what the workers must share lives behind `shared`.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/bridge/client_address.h"
#include "wsbridge/bridge/client_limits.h"
#include "wsbridge/bridge/origin_policy.h"
#include "wsbridge/cli/config.h"
#include "wsbridge/http/request.h"
#include "wsbridge/http/request_parser.h"
#include "net/shared_state.h"
#include "wsbridge/metrics/metric_set.h"
#include "wsbridge/tls/tls_context.h"
#include "wsbridge/ws/deflate_settings.h"
#include "wsbridge/ws/inflate_state_pool.h"
#include "wsbridge/ws/shared_deflaters.h"

namespace wsbridge::proc {
class Spawner;
}

namespace wsbridge::net {

class AcceptedClient;
class HostNameLookups;
class LaunchQueue;
class RoomBroker;
class RoomTable;

// How long a client may take to send its request head (slowloris bound).
constexpr unsigned kRequestTimeoutMs = 10000;
// After the server sends a close frame, how long it waits for the client's.
constexpr unsigned kCloseHandshakeTimeoutMs = 2000;
// Longest stderr line logged as one line; longer ones are logged in pieces.
constexpr std::size_t kMaxStderrLine = 64 * 1024;
// Line limit when --maxmessage=0 (unlimited): child output still needs a bound.
constexpr std::size_t kUnlimitedLineCap = 64 * 1024 * 1024;
// Idle time before TCP keepalive probes a silent peer (as Go's default).
constexpr unsigned kTcpKeepaliveDelaySeconds = 15;
// One read from a socket or pipe at most (libuv suggests 64 KiB too).
constexpr std::size_t kReadBufferSize = 64 * 1024;

struct ServerContext {
  const cli::Config* config = nullptr;
  SharedTls* tls_context = nullptr;         // with --ssl; replaced on SIGHUP
  int https_port = 443;                    // where --redirport sends clients
  bridge::TrustedProxies trusted_proxies;  // --trusted-proxy
  std::string command_path;               // absolute, resolved once at start-up
  std::vector<std::string> command_argv;  // argv[0] = command_path
  std::string command_text;               // for the log's command:'...' field
  std::string auth_program;               // --auth, resolved once at start-up (empty: none)
  ws::DeflateSettings deflate;            // --deflate, --deflate-threshold
  bridge::EnvList passenv;                // captured once at start-up
  bridge::OriginPolicy origin_policy;
  std::vector<http::Header> upgrade_headers;  // --header and --header-ws
  std::vector<http::Header> http_headers;     // --header-http
  http::ParserLimits parser_limits;
  std::size_t max_line = 0;
  std::string server_software;

  // Starts children (thread-safe, shared by every worker); main() owns it.
  proc::Spawner* spawner = nullptr;
  // This loop's launches waiting for the pool (owned by the Worker; null:
  // each launch goes to the pool at once).
  LaunchQueue* launches = nullptr;

  // --maxforks: children alive now in every worker (spawned and not yet
  // reaped). fork_limit_reached() refuses early; take_fork_slot() is exact.
  ForkSlots* fork_slots = nullptr;
  bool fork_limit_reached() const noexcept { return fork_slots->exhausted(); }
  [[nodiscard]] bool take_fork_slot() noexcept { return fork_slots->take(); }
  void release_fork_slot() noexcept { fork_slots->release(); }
  // --maxconn-per-client and --connect-rate, across every worker.
  bridge::ClientLimits* client_limits = nullptr;
  UniqueIds* unique_ids = nullptr;  // shared by every worker
  // --reverselookup: this worker's way to the lookup threads (else null).
  HostNameLookups* host_name_lookups = nullptr;
  // --broadcast: this loop's rooms (owned by the Worker; else null).
  RoomTable* rooms = nullptr;
  // --room-broker: this loop's connections to the cluster's Redis (owned
  // by the Worker; else null).
  RoomBroker* broker = nullptr;

  // Every open client, for graceful shutdown (intrusive list).
  AcceptedClient* first_client = nullptr;
  LoopCounter connection_count;  // read by the main thread for status lines
  // What this loop counted for --metrics; only this loop writes, a scrape
  // on the main thread reads (and adds up every loop's).
  metrics::LoopMetrics metrics;
  bool shutting_down = false;
  void (*on_last_connection_closed)(ServerContext&) = nullptr;
  void* server = nullptr;

  // Loop-owned scratch: reads land here and are consumed before the next one.
  alignas(16) char read_buffer[kReadBufferSize];
  std::string frame_scratch;  // outgoing frames of one stdout read
  std::string deflate_scratch;  // one compressed message
  // The loop's compressors for connections that agreed
  // server_no_context_takeover (owned by the Worker; null before).
  ws::SharedDeflaters* deflaters = nullptr;
  ws::InflateStatePool* inflate_states = nullptr;  // kept between compressed messages
  std::string utf8_scratch;   // repaired child output
  std::string tls_plaintext;  // decrypted bytes of one socket read
  std::string tls_replies;    // TLS records produced while reading
};

// Parses "Name: value" as websocketd does (split at the first ':', value's
// leading spaces stripped, no colon → empty value, name canonicalised).
http::Header parse_header_flag(const std::string& flag);

}  // namespace wsbridge::net
