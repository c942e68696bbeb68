// Everything the command line says, read once at start-up. A plain struct:
// no behaviour lives here.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace wsbridge::cli {

// --workers: most event loops (threads) at once, and the default's cap on
// machines with more cores; past this they only add contention.
constexpr unsigned kMaxWorkers = 64;

enum class LogLevel { Debug, Trace, Access, Info, Error, Fatal, None };

// --slow-client: what a room does with a client whose queue is full.
enum class SlowClientPolicy { Close, Drop, Wait };

// --framing: how messages are delimited on the program's stdin and stdout.
// Line is websocketd's; Nul ends each message with a NUL byte; Length puts
// a 4-byte big-endian length before each (binary messages).
enum class Framing { Line, Nul, Length };

struct Config {
  // Listening.
  int port = 0;                        // 0 → 80 (443 with --ssl), as websocketd
  std::vector<std::string> addresses;  // empty → all interfaces; "[::1]" for IPv6
  // Bridging.
  bool binary = false;
  std::string passenv = "PATH,LD_LIBRARY_PATH";
  int maxforks = 0;                    // 0 or less → unlimited
  // Per client address (bridge::client_key): open connections at most, and
  // new connections per second (a token bucket, burst = rate); 0 = off.
  unsigned maxconn_per_client = 0;
  unsigned connect_rate = 0;
  // --auth=PROGRAM: asked before each request is answered (empty: none),
  // and how long its answer may take.
  std::string auth;
  unsigned auth_timeout_ms = 5000;
  unsigned closems = 0;                // added to each kill-escalation delay
  unsigned shutdown_timeout_ms = 0;    // SIGTERM/SIGINT: longest graceful stop; 0 = 10 s + 3 x closems
  unsigned workers = 0;                // --workers: event loops on their own threads; 0 = one per core
  std::uint64_t max_message = 16ull * 1024 * 1024;  // --maxmessage/--maxframesize; 0 = unlimited
  // --deflate: permessage-deflate (RFC 7692) when a client offers it; messages
  // shorter than deflate_threshold bytes go out uncompressed.
  bool deflate = false;
  std::uint64_t deflate_threshold = 64;
  // --broadcast: clients of one URL path share one program (a room). Each
  // client's queue holds at most room_queue bytes; past it slow_client
  // decides. room_max_clients: 0 = no limit. room_linger_ms: how long a room
  // without clients keeps its program.
  bool broadcast = false;
  std::uint64_t room_queue = 1024 * 1024;
  SlowClientPolicy slow_client = SlowClientPolicy::Close;
  unsigned room_max_clients = 0;
  unsigned room_linger_ms = 0;
  unsigned room_replay = 0;  // --room-replay: messages a joining client gets first
  bool room_tagged = false;  // --room-tagged: "ID<TAB>message" both ways
  // --room-broker=redis://HOST:PORT[/DB]: rooms shared by every instance
  // naming the same Redis (room_broker_host empty: rooms are local).
  std::string room_broker_host;
  int room_broker_port = 0;
  int room_broker_db = 0;
  // --exit-close-codes=4000: a program's non-zero exit status N closes its
  // connection with 4000 + N instead of 1011 (bridge::close_for_exit).
  bool exit_status_close_codes = false;
  // --subprotocol: the protocols this endpoint speaks, in the server's order
  // of preference (empty: it never answers one, as websocketd).
  std::vector<std::string> subprotocols;
  Framing framing = Framing::Line;
  // Policy.
  std::string origin;                  // comma-separated allow list
  bool sameorigin = false;
  // Privilege drop after binding (--user, --group): names or numeric ids;
  // empty keeps the server's own.
  std::string user;
  std::string group;
  std::vector<std::string> headers;       // --header: on 101 responses (websocketd 0.4.1)
  std::vector<std::string> headers_ws;    // --header-ws: on 101 responses
  std::vector<std::string> headers_http;  // --header-http: on plain HTTP responses
  LogLevel loglevel = LogLevel::Access;
  bool log_json = false;               // --logformat=json: one JSON object per line
  // Accepted so newer websocketd command lines parse; later work implements them.
  std::string dir, staticdir, cgidir, sslcert, sslkey, sslca;
  // Unix domain socket to listen on (--unixsocket=PATH or --address=unix:PATH)
  // and its file mode. Alone (no --port/--address) it is the only listener.
  std::string unixsocket;
  unsigned unixsocket_mode = 0666;
  // Behind proxies: every connection starts with a PROXY v1/v2 header, and
  // X-Forwarded-For/X-Real-IP are believed from these addresses/ranges.
  bool proxy_protocol = false;
  std::vector<std::string> trusted_proxies;
  bool devconsole = false, ssl = false, reverselookup = false, passstderr = false;
  int redirport = 0;
  // --metrics=HOST:PORT: the Prometheus endpoint's own listener (empty: none).
  std::string metrics;
  unsigned pingms = 0;
  // The program to run for each connection and its arguments, verbatim.
  std::string command;
  std::vector<std::string> command_args;
};

// Result of parsing argv: either a Config to run with, or something to print
// and an exit code (help, version, license, usage errors).
struct ParseOutcome {
  bool run = false;
  Config config;
  int exit_code = 0;
  std::string stdout_text;  // --help, --version, --license
  std::string stderr_text;  // errors and usage hints
};

// Parses websocketd-style command lines: "--opt=v", "--opt v", "-opt=v",
// "-opt v", booleans as "--binary" or "--binary=true|false|1|0|t|f".
// Parsing stops at the first argument that is not an option (or after "--"):
// it is COMMAND, and everything after it is COMMAND's arguments, even words
// starting with "-". Unknown option → exit 2; bad value → exit 2; semantic
// errors (bad --loglevel, no COMMAND) → exit 1, as websocketd.
ParseOutcome parse_args(int argc, const char* const* argv);

// "debug" → LogLevel::Debug ...; false when the name is unknown.
bool parse_log_level(const std::string& name, LogLevel& level);

}  // namespace wsbridge::cli
