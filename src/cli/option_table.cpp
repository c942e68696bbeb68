#include "cli/option_table.h"

#include <climits>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "cli/help_formatter.h"
#include "cli/log_level_names.h"
#include "cli/program_text.h"
#include "cli/value_checks.h"
#include "wsbridge/cli/option_limits.h"

#ifndef WSBRIDGE_VERSION
#define WSBRIDGE_VERSION "unknown"
#endif

namespace wsbridge::cli {
namespace {

// What the range of each bounded option is called in refusals; --help and
// the man page say the same in their own words.
const std::string kPortRange = "1 to 65535, or 0 for 80 (443 with --ssl)";
const std::string kRedirectPortRange = "1 to 65535, or 0 for none";
const std::string kMaxforksRange = "an integer; 0 or less means unlimited";
const std::string kPerClientRange = "0 (off) to " + std::to_string(kMaxPerClient);
const std::string kDelayRange = "0 to " + std::to_string(kMaxDelayMs) + " (milliseconds, up to one day)";
const std::string kMessageRange = "0 (unlimited) to 1T, in bytes with an optional suffix K, M, G or T";
const std::string kThresholdRange = "0 to 1T, in bytes with an optional suffix K, M, G or T";
const std::string kWorkersRange = "0 to " + std::to_string(kMaxWorkers) + " (0: one per CPU core)";
const std::string kShutdownRange = "0.001 to 86400 (seconds)";
const std::string kAuthTimeoutRange = "0.001 to 86400 (seconds)";
const std::string kRoomQueueRange = "64K to 1G, in bytes with an optional suffix K, M or G";
const std::string kRoomClientsRange = "0 (no limit) to " + std::to_string(kMaxRoomClients);
const std::string kReplayRange = "0 (none) to " + std::to_string(kMaxRoomReplay);
const std::string kLingerRange = "0 to 86400 (seconds)";
const std::string kPingIntervalRange = "0 (off), or 0.001 to 86400 (seconds)";

// Renders a byte count the way a user would type it, so that the default
// shown by --help ("16M") can be pasted back into --maxmessage.
std::string format_size(std::uint64_t bytes) {
  static const char* const kUnits[] = {"", "K", "M", "G", "T"};
  std::size_t unit = 0;
  while (bytes != 0 && bytes % 1024 == 0 && unit + 1 < std::size(kUnits)) {
    bytes /= 1024;
    ++unit;
  }
  return std::to_string(bytes) + kUnits[unit];
}

CLI::Option* add_flag(CLI::App& app, const std::string& name, bool& target, std::string description) {
  CLI::Option* opt = app.add_flag(name, target, std::move(description));
  opt->default_str(target ? "true" : "false");
  return opt;
}

CLI::Option* add_list(CLI::App& app, const std::string& name, std::vector<std::string>& target,
                      std::string description, std::string type_name) {
  return app.add_option(name, target, std::move(description))
      ->type_name(std::move(type_name))
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
      // Otherwise CLI11 reads "[::1]" as a bracketed list and yields "::1".
      ->allow_extra_args(false);
}

// --header, --header-ws and --header-http: repeatable "Name: value" lines.
CLI::Option* add_header_list(CLI::App& app, const std::string& name, std::vector<std::string>& target,
                             std::string description) {
  return add_list(app, name, target, std::move(description), "HEADER")->transform(header_line());
}

std::unique_ptr<CLI::App> make_app() {
  auto app = std::make_unique<CLI::App>(
      std::string(kProgramName) + " " + WSBRIDGE_VERSION +
          ": serve a program that reads stdin and writes stdout\n"
          "as a WebSocket endpoint. Each connection gets its own process;\n"
          "each line it prints becomes a message, and each message received\nbecomes a line on its stdin. "
          "Command lines written for websocketd work unchanged.",
      kProgramName);
  app->formatter(std::make_shared<HelpFormatter>());
  app->set_help_flag("-h,--help", "Print this help and exit.");
  app->option_defaults()->always_capture_default()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  app->footer(
      "Environment of COMMAND:\n"
      "  The server's own environment is not inherited. COMMAND sees only the\n"
      "  variables named by --passenv, plus CGI-style variables describing the\n"
      "  connection: SERVER_SOFTWARE, REMOTE_ADDR, REMOTE_HOST, REMOTE_PORT,\n"
      "  SERVER_NAME, SERVER_PORT, SERVER_PROTOCOL, GATEWAY_INTERFACE,\n"
      "  REQUEST_METHOD, REQUEST_URI, SCRIPT_NAME, PATH_INFO, PATH_TRANSLATED,\n"
      "  QUERY_STRING, UNIQUE_ID, AUTH_TYPE, CONTENT_LENGTH, CONTENT_TYPE,\n"
      "  REMOTE_IDENT, REMOTE_USER (these five always empty), HTTPS (=on with TLS)\n"
      "  and one HTTP_<NAME> per request header (except Host and Proxy).\n"
      "\n"
      "Examples:\n"
      "  wsbridge --port=8080 cat\n"
      "      Echo every line back to the client.\n"
      "  wsbridge --port 8080 --address 127.0.0.1 -- python3 -u chat.py --room=lobby\n"
      "      Listen on loopback only; \"--room=lobby\" is passed to the script.\n"
      "  wsbridge --port=8080 --binary --maxmessage=64M gzip -c\n"
      "      Relay raw bytes instead of lines.\n"
      "\n"
      "See wsbridge(1) for details, exit codes and differences from websocketd.");
  return app;
}

// websocketd 0.4.1's listening and bridging options.
void add_bridge_options(CLI::App& app, Config& config, OptionExtras& extras) {
  app.add_option("--port", config.port, "TCP port, 1-65535; 0 means 80 (443 with\n--ssl).")
      ->type_name("PORT")
      ->transform(integer_in(0, kMaxPort, kPortRange));
  add_list(app, "--address", config.addresses,
           "Address to listen on; repeatable. Brackets\n"
           "for IPv6: [::1]. None means all interfaces.",
           "ADDRESS")
      ->transform(listen_address());
  add_flag(app, "--binary", config.binary,
           "Relay stdout in raw chunks as binary messages\n"
           "instead of one text message per line.");
  app.add_option("--passenv", config.passenv,
                 "Environment variables passed on to COMMAND;\n"
                 "all others are withheld.")
      ->type_name("VAR[,VAR...]");
  app.add_option("--maxforks", config.maxforks,
                 "Most processes at once; later upgrades get\n"
                 "429. A program counts until its connection\n"
                 "ends and its process group is gone. 0 or\n"
                 "less means unlimited.")
      ->type_name("N")
      ->transform(integer_in(INT_MIN, INT_MAX, kMaxforksRange));
  app.add_option("--closems", config.closems,
                 "Milliseconds added to each wait of the stop\n"
                 "sequence (EOF, SIGINT, SIGTERM, SIGKILL);\n"
                 "at most 86400000 (one day).")
      ->type_name("MS")
      ->transform(integer_in(0, kMaxDelayMs, kDelayRange));
  app.add_option("--maxmessage,--maxframesize", config.max_message,
                 "Largest message accepted from a client;\n"
                 "suffix K, M, G or T = x1024, at most 1T.\n"
                 "Larger messages close the connection\n"
                 "(1009). 0: unlimited.")
      ->transform(byte_size_up_to(kMaxMessageLimit, kMessageRange))
      ->type_name("BYTES")
      ->default_str(format_size(config.max_message));
  add_flag(app, "--deflate", config.deflate,
           "Compress messages (permessage-deflate) with\n"
           "clients that offer it; off by default.");
  app.add_option("--deflate-threshold", config.deflate_threshold,
                 "With --deflate, messages shorter than this\n"
                 "go out uncompressed; suffix K, M, G or T.")
      ->transform(byte_size_up_to(kMaxMessageLimit, kThresholdRange))
      ->type_name("BYTES")
      ->default_str(format_size(config.deflate_threshold));
  app.add_option("--exit-close-codes", extras.exit_close_codes,
                 "Close code when COMMAND ends: exit 0 closes\n"
                 "with 1000; 1011 (default): a non-zero exit\n"
                 "N closes with 1011 \"exit status N\"; 4000:\n"
                 "with 4000+N. A signal: 1011 \"killed by SIGSEGV\".")
      ->type_name("1011|4000")
      ->transform(one_of({"1011", "4000"}));
  app.add_option("--framing", extras.framing,
                 "How messages are delimited on COMMAND's\n"
                 "stdin and stdout: line (one per line), nul\n"
                 "(each ends with a NUL byte; binary with\n"
                 "--binary), length (a 4-byte big-endian\n"
                 "length, then the bytes; binary messages).")
      ->type_name("line|nul|length")
      ->transform(one_of({"line", "nul", "length"}));
  add_list(app, "--subprotocol", extras.subprotocols,
           "Subprotocols this endpoint speaks, in order\n"
           "of preference; the first the client offered\n"
           "is answered and given as WEBSOCKET_PROTOCOL.\n"
           "An offer of none of them gets 400. None:\n"
           "no protocol is ever answered.",
           "LIST")
      ->transform(subprotocol_list());
}

// Who may connect and what the responses carry.
void add_access_options(CLI::App& app, Config& config, OptionExtras& extras) {
  app.add_option("--origin", config.origin,
                 "Allowed Origin values, comma-separated, each\n"
                 "[scheme://]host[:port]; others get 403.\n"
                 "None means any origin is accepted.")
      ->type_name("LIST");
  add_flag(app, "--sameorigin", config.sameorigin,
           "Reject (403) upgrades whose Origin host and\n"
           "port differ from the Host header.");
  app.add_option("--user", config.user,
                 "After binding, run as this user (name or\n"
                 "uid), children too. Needs root.")
      ->type_name("USER");
  app.add_option("--group", config.group,
                 "After binding, run as this group; default:\n"
                 "the --user's primary group. Needs root.")
      ->type_name("GROUP");
  add_header_list(app, "--header", config.headers,
                  "Header \"Name: value\" added to WebSocket\n"
                  "upgrade responses; repeatable.");
  add_header_list(app, "--header-ws", config.headers_ws,
                  "Header for WebSocket upgrade responses\n"
                  "only; repeatable.");
  add_header_list(app, "--header-http", config.headers_http,
                  "Header for plain HTTP responses only;\n"
                  "repeatable.");
  add_list(app, "--trusted-proxy", config.trusted_proxies,
           "Address or CIDR range of a proxy whose\n"
           "X-Forwarded-For/X-Real-IP set REMOTE_ADDR;\n"
           "comma-separated, repeatable.",
           "RANGES")
      ->transform(proxy_ranges());
  app.add_option("--auth", config.auth,
                 "Run PROGRAM before answering each request,\n"
                 "with its CGI variables. Exit 0 allows (its\n"
                 "REMOTE_USER=/AUTH_*= lines are passed on);\n"
                 "else 403, or the header block it printed.")
      ->type_name("PROGRAM");
  app.add_option("--auth-timeout", extras.auth_timeout,
                 "Longest wait for --auth's answer, in seconds\n"
                 "(0.001-86400); then 503. Default: 5.")
      ->type_name("SECONDS")
      ->transform(seconds_up_to(kMaxDelayMs, false, kAuthTimeoutRange));
  app.add_option("--maxconn-per-client", config.maxconn_per_client,
                 "Most connections open at once from one client\n"
                 "address (IPv6: per /64); more get 429.\n"
                 "0: no limit.")
      ->type_name("N")
      ->transform(integer_in(0, kMaxPerClient, kPerClientRange));
  app.add_option("--connect-rate", config.connect_rate,
                 "New connections per second from one client\n"
                 "address, in bursts of up to N; more get 429\n"
                 "with Retry-After. 0: no limit.")
      ->type_name("N/s")
      ->transform(connection_rate(kMaxPerClient));
  add_flag(app, "--proxy-protocol", config.proxy_protocol,
           "Every connection starts with a PROXY v1/v2\n"
           "header (HAProxy send-proxy); its source\n"
           "address becomes REMOTE_ADDR.");
}

void add_logging_options(CLI::App& app, const Config& config, OptionExtras& extras) {
  extras.loglevel = log_level_name(config.loglevel);
  app.add_option("--loglevel", extras.loglevel,
                 "Least severe messages logged: debug, trace,\n"
                 "access, info, error, fatal, or none.")
      ->type_name("LEVEL");
  app.add_option("--logformat", extras.logformat,
                 "Log line layout: text (websocketd's) or\n"
                 "json (one object per line, for log shippers).")
      ->type_name("FORMAT");
  add_flag(app, "--version", extras.version, "Print the version and exit.");
  add_flag(app, "--license", extras.license, "Print the license and exit.");
}

// Serving files and TLS, from websocketd's main branch.
void add_files_and_tls_options(CLI::App& app, Config& config) {
  app.add_option("--dir", config.dir,
                 "Instead of COMMAND: each executable under\n"
                 "DIR is an endpoint at its path, e.g.\n"
                 "/chat.sh/room runs DIR/chat.sh with\n"
                 "PATH_INFO=/room.")
      ->type_name("DIR");
  app.add_option("--staticdir", config.staticdir,
                 "Serve the files in DIR to plain HTTP GET\n"
                 "and HEAD (index.html for folders; no\n"
                 "dotfiles or listings).")
      ->type_name("DIR");
  app.add_option("--cgidir", config.cgidir,
                 "Run CGI/1.1 scripts in DIR for plain HTTP\n"
                 "requests to their path.")
      ->type_name("DIR");
  add_flag(app, "--devconsole", config.devconsole,
           "Answer plain HTTP requests with a page for\n"
           "trying the endpoint in a browser. Not with\n"
           "--staticdir or --cgidir.");
  add_flag(app, "--ssl", config.ssl, "Listen with TLS 1.2/1.3; needs --sslcert\nand --sslkey. SIGHUP reloads both.");
  app.add_option("--sslcert", config.sslcert, "TLS certificate chain, PEM; must be\nreadable at start-up.")
      ->type_name("FILE");
  app.add_option("--sslkey", config.sslkey, "TLS private key, PEM; must be readable\nat start-up.")
      ->type_name("FILE");
  app.add_option("--sslca", config.sslca, "Require client certificates from this CA.")->type_name("FILE");
  app.add_option("--redirport", config.redirport,
                 "Also listen on PORT (1-65535) with plain HTTP\n"
                 "and redirect every request to the https URL.")
      ->type_name("PORT")
      ->transform(integer_in(0, kMaxPort, kRedirectPortRange));
}

// Listeners, liveness and threads beyond websocketd 0.4.1.
void add_server_options(CLI::App& app, Config& config, OptionExtras& extras) {
  add_flag(app, "--reverselookup", config.reverselookup,
           "REMOTE_HOST from a reverse DNS lookup of\nREMOTE_ADDR (on threads of its own, one\nper address: a "
           "slow resolver delays only\nthe clients it is asked about, up to 64\naddresses at once).");
  app.add_option("--unixsocket", config.unixsocket,
                 "Also listen on a Unix socket at PATH (the\n"
                 "only listener without --port/--address).\n"
                 "--address=unix:PATH does the same.")
      ->type_name("PATH")
      ->transform(unix_socket_path());
  app.add_option("--metrics", config.metrics,
                 "Answer GET /metrics (Prometheus text format)\n"
                 "on a plain-HTTP listener of its own at\n"
                 "HOST:PORT, never on the serving ports. No\n"
                 "authentication: keep it on loopback.")
      ->type_name("HOST:PORT")
      ->transform(metrics_address());
  app.add_option("--unixsocket-mode", extras.unixsocket_mode, "File mode of the Unix socket, octal,\nat most 7777.")
      ->type_name("MODE")
      ->transform(file_mode());
  app.add_option("--pingms", config.pingms,
                 "Ping clients every MS ms and drop those that\n"
                 "send nothing for two intervals; 0 disables;\n"
                 "at most 86400000 (one day).")
      ->type_name("MS")
      ->transform(integer_in(0, kMaxDelayMs, kDelayRange));
  app.add_option("--ping-interval", extras.ping_interval, "The same in seconds (e.g. 30 or 0.5).")
      ->type_name("SECONDS")
      ->transform(seconds_up_to(kMaxDelayMs, true, kPingIntervalRange));
  app.add_option("--shutdown-timeout", extras.shutdown_timeout,
                 "Longest graceful stop on SIGTERM/SIGINT, in\n"
                 "seconds (0.001-86400); then children are\n"
                 "SIGKILLed. Default: 10 + 3 x closems/1000.")
      ->type_name("SECONDS")
      ->transform(seconds_up_to(kMaxDelayMs, false, kShutdownRange));
  add_flag(app, "--passstderr", config.passstderr,
           "Send stdout and stderr lines as JSON\n"
           "{\"stream\":...,\"data\":...} text messages.");
  app.add_option("--workers", config.workers,
                 "Event loops, each on its own thread, all\n"
                 "serving every listener. 0: one per CPU core\n"
                 "(at most 64).")
      ->type_name("N")
      ->transform(integer_in(0, kMaxWorkers, kWorkersRange));
}

// Broadcast rooms: one program shared by the clients of one URL path.
void add_room_options(CLI::App& app, Config& config, OptionExtras& extras) {
  add_flag(app, "--broadcast", config.broadcast,
           "Clients of the same URL path share one\n"
           "program (a room): every output line goes to\n"
           "all of them. Runs one event loop.");
  app.add_option("--room-queue", config.room_queue,
                 "With --broadcast, most bytes queued for one\n"
                 "client (64K-1G, suffix K, M or G); then\n"
                 "--slow-client decides.")
      ->transform(byte_size_in(kMinRoomQueue, kMaxRoomQueue, kRoomQueueRange))
      ->type_name("BYTES")
      ->default_str(format_size(config.room_queue));
  app.add_option("--slow-client", extras.slow_client,
                 "A room client whose queue is full: close\n"
                 "(1008 \"too slow\"), drop (its messages,\n"
                 "counted) or wait (the room waits for it).")
      ->type_name("POLICY");
  app.add_option("--room-max-clients", config.room_max_clients,
                 "With --broadcast, clients of one room at\n"
                 "most; more get 429. 0: no limit.")
      ->type_name("N")
      ->transform(integer_in(0, kMaxRoomClients, kRoomClientsRange));
  add_flag(app, "--room-tagged", config.room_tagged,
           "With --broadcast, the program reads \"ID<TAB>msg\"\n"
           "and \"ID<TAB>join\"/\"ID<TAB>leave\" lines; its line\n"
           "\"ID<TAB>text\" goes to that client only.");
  app.add_option("--room-replay", config.room_replay,
                 "With --broadcast, a joining client first gets\n"
                 "the room's last N messages (at most 1 MiB).")
      ->type_name("N")
      ->transform(integer_in(0, kMaxRoomReplay, kReplayRange));
  app.add_option("--room-linger", extras.room_linger,
                 "Seconds a room without clients keeps its\n"
                 "program (0-86400); a client arriving\n"
                 "meanwhile joins it.")
      ->type_name("SECONDS")
      ->transform(seconds_up_to(kMaxDelayMs, true, kLingerRange));
  app.add_option("--room-broker", extras.room_broker,
                 "With --broadcast, share rooms with every\n"
                 "instance naming this Redis: one program per\n"
                 "room in the whole cluster.")
      ->type_name("redis://HOST:PORT[/DB]")
      ->transform(room_broker_url());
}

}  // namespace

std::unique_ptr<CLI::App> build_app(Config& config, OptionExtras& extras) {
  std::unique_ptr<CLI::App> app = make_app();
  add_bridge_options(*app, config, extras);
  add_access_options(*app, config, extras);
  add_logging_options(*app, config, extras);
  add_files_and_tls_options(*app, config);
  add_server_options(*app, config, extras);
  add_room_options(*app, config, extras);
  return app;
}

}  // namespace wsbridge::cli
