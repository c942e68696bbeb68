// Tests for src/cli/parse_args.cpp: websocketd's (Go `flag`) spellings, the
// COMMAND split, error exit codes and texts, and --help versus the man page.
#include "wsbridge/cli/config.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <vector>

using wsbridge::cli::Config;
using wsbridge::cli::LogLevel;
using wsbridge::cli::parse_args;
using wsbridge::cli::parse_log_level;
using wsbridge::cli::ParseOutcome;

namespace {

// Parses {"wsbridge", words...}.
ParseOutcome parse(std::initializer_list<const char*> words) {
  std::vector<const char*> argv{"wsbridge"};
  argv.insert(argv.end(), words.begin(), words.end());
  argv.push_back(nullptr);
  return parse_args(static_cast<int>(argv.size() - 1), argv.data());
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A successful parse prints nothing and runs.
void require_runs(const ParseOutcome& outcome) {
  INFO("stderr: " << outcome.stderr_text);
  REQUIRE(outcome.run);
  REQUIRE(outcome.exit_code == 0);
  REQUIRE(outcome.stdout_text.empty());
  REQUIRE(outcome.stderr_text.empty());
}

// An error says so on stderr only and does not run.
void require_fails(const ParseOutcome& outcome, int exit_code, const std::string& message) {
  INFO("stderr: " << outcome.stderr_text);
  REQUIRE_FALSE(outcome.run);
  REQUIRE(outcome.exit_code == exit_code);
  REQUIRE(outcome.stdout_text.empty());
  REQUIRE(contains(outcome.stderr_text, message));
}

bool is_name_char(char c) { return (c >= 'a' && c <= 'z') || c == '-'; }

// Every long option name listed at the start of a line of --help
// ("  -h, --help", "  --maxmessage, --maxframesize=BYTES").
std::set<std::string> option_names_in_help(const std::string& help) {
  std::set<std::string> names;
  std::istringstream lines(help);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  -", 0) != 0) continue;
    // The names end at "=VALUE" or at the gap before the description.
    const std::string head =
        line.substr(0, std::min(line.find('=', 2), line.find("  ", 2)));
    for (std::size_t at = head.find("--"); at != std::string::npos; at = head.find("--", at)) {
      std::size_t end = at + 2;
      while (end < head.size() && is_name_char(head[end])) ++end;
      names.insert(head.substr(at + 2, end - at - 2));
      at = end;
    }
  }
  return names;
}

// True when "--name" occurs as a whole option name in text.
bool mentions_option(const std::string& text, const std::string& name) {
  const std::string needle = "--" + name;
  for (std::size_t at = text.find(needle); at != std::string::npos;
       at = text.find(needle, at + 1)) {
    const std::size_t end = at + needle.size();
    if (end == text.size() || !is_name_char(text[end])) return true;
  }
  return false;
}

// roff writes a literal minus as "\-"; undo that so option names match.
std::string unescape_minus(const std::string& roff) {
  std::string text;
  for (std::size_t i = 0; i < roff.size(); ++i) {
    if (roff[i] == '\\' && i + 1 < roff.size() && roff[i + 1] == '-') continue;
    text += roff[i];
  }
  return text;
}

std::string repo_root() {
  std::string path = __FILE__;  // <root>/tests/unit/cli_parse_args_test.cpp
  for (int i = 0; i < 3; ++i) {
    const std::size_t slash = path.rfind('/');
    path = slash == std::string::npos ? "." : path.substr(0, slash);
  }
  return path.empty() ? "/" : path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

const std::vector<std::string> kAllOptions = {
    "port",       "address",   "binary",     "passenv",  "maxforks",      "closems",
    "maxmessage", "maxframesize", "origin",  "sameorigin", "header",      "header-ws",
    "header-http", "loglevel", "help",       "version",  "license",       "dir",
    "staticdir",  "cgidir",    "devconsole", "ssl",      "sslcert",       "sslkey",
    "sslca",      "redirport", "reverselookup", "unixsocket", "pingms",   "passstderr",
    "user",       "group",     "logformat", "unixsocket-mode", "ping-interval",
    "trusted-proxy", "proxy-protocol", "shutdown-timeout", "workers", "metrics",
    "maxconn-per-client", "connect-rate", "auth", "auth-timeout", "deflate", "deflate-threshold",
    "broadcast", "room-queue", "slow-client", "room-max-clients", "room-linger", "room-replay", "room-tagged",
    "room-broker",
    "exit-close-codes", "subprotocol", "framing"};

}  // namespace

TEST_CASE("a bare COMMAND gets every default", "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse({"cat"});
  require_runs(outcome);
  const Config& config = outcome.config;
  const Config defaults;
  CHECK(config.command == "cat");
  CHECK(config.command_args.empty());
  CHECK(config.port == 0);
  CHECK(config.addresses.empty());
  CHECK_FALSE(config.binary);
  CHECK(config.passenv == "PATH,LD_LIBRARY_PATH");
  CHECK(config.maxforks == 0);
  CHECK(config.closems == 0u);
  CHECK(config.max_message == 16u * 1024 * 1024);
  CHECK(config.origin.empty());
  CHECK_FALSE(config.sameorigin);
  CHECK(config.loglevel == LogLevel::Access);
  CHECK(config.max_message == defaults.max_message);
}

TEST_CASE("a value option accepts all four Go spellings", "[cli_parse_args_test]") {
  const auto check_port = [](std::initializer_list<const char*> words) {
    const ParseOutcome outcome = parse(words);
    require_runs(outcome);
    CHECK(outcome.config.port == 8080);
    CHECK(outcome.config.command == "cat");
  };
  check_port({"--port=8080", "cat"});
  check_port({"--port", "8080", "cat"});
  check_port({"-port=8080", "cat"});
  check_port({"-port", "8080", "cat"});
}

TEST_CASE("a string option takes the next word even if it starts with a dash",
          "[cli_parse_args_test]") {
  const ParseOutcome spaced = parse({"--origin", "-weird", "cat"});
  require_runs(spaced);
  CHECK(spaced.config.origin == "-weird");
  CHECK(spaced.config.command == "cat");

  const ParseOutcome single = parse({"-origin", "--port=1", "cat"});
  require_runs(single);
  CHECK(single.config.origin == "--port=1");
  CHECK(single.config.port == 0);

  const ParseOutcome negative = parse({"--maxforks", "-3", "cat"});
  require_runs(negative);
  CHECK(negative.config.maxforks == -3);
}

TEST_CASE("values keep '=' and brackets verbatim", "[cli_parse_args_test]") {
  const ParseOutcome outcome =
      parse({"--header=X-A: b=c", "--address=[::1]", "--passenv", "[A,B]", "cat"});
  require_runs(outcome);
  CHECK(outcome.config.headers == std::vector<std::string>{"X-A: b=c"});
  CHECK(outcome.config.addresses == std::vector<std::string>{"[::1]"});
  CHECK(outcome.config.passenv == "[A,B]");
}

TEST_CASE("empty values are values", "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse({"--passenv=", "--origin=", "--port=5", "cat"});
  require_runs(outcome);
  CHECK(outcome.config.passenv.empty());
  CHECK(outcome.config.origin.empty());
  CHECK(outcome.config.port == 5);

  const ParseOutcome spaced = parse({"--passenv", "", "cat"});
  require_runs(spaced);
  CHECK(spaced.config.passenv.empty());
  CHECK(spaced.config.command == "cat");

  const ParseOutcome address = parse({"--address=", "cat"});
  require_runs(address);
  CHECK(address.config.addresses == std::vector<std::string>{""});
}

TEST_CASE("booleans accept a bare flag and Go's ParseBool words", "[cli_parse_args_test]") {
  for (const char* word : {"--binary", "-binary"}) {
    const ParseOutcome outcome = parse({word, "cat"});
    require_runs(outcome);
    CHECK(outcome.config.binary);
  }
  for (const char* word : {"--binary=true", "--binary=TRUE", "--binary=True", "--binary=1",
                           "--binary=t", "--binary=T", "-binary=true"}) {
    INFO(word);
    const ParseOutcome outcome = parse({word, "cat"});
    require_runs(outcome);
    CHECK(outcome.config.binary);
  }
  for (const char* word : {"--binary=false", "--binary=FALSE", "--binary=False", "--binary=0",
                           "--binary=f", "--binary=F", "-binary=false"}) {
    INFO(word);
    const ParseOutcome outcome = parse({word, "cat"});
    require_runs(outcome);
    CHECK_FALSE(outcome.config.binary);
  }
}

TEST_CASE("a boolean never takes the next word: --binary true runs `true`",
          "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse({"--binary", "true"});
  require_runs(outcome);
  CHECK(outcome.config.binary);
  CHECK(outcome.config.command == "true");
  CHECK(outcome.config.command_args.empty());

  const ParseOutcome off = parse({"--sameorigin", "false", "x"});
  require_runs(off);
  CHECK(off.config.sameorigin);
  CHECK(off.config.command == "false");
  CHECK(off.config.command_args == std::vector<std::string>{"x"});
}

TEST_CASE("a boolean with a word Go does not accept is a syntax error",
          "[cli_parse_args_test]") {
  for (const char* word : {"--binary=yes", "--binary=on", "--binary=", "--binary=2"}) {
    INFO(word);
    require_fails(parse({word, "cat"}), 2, "invalid boolean value");
  }
}

TEST_CASE("COMMAND's arguments are passed verbatim, options included",
          "[cli_parse_args_test]") {
  const ParseOutcome outcome =
      parse({"--port=1", "cat", "--devconsole", "-n", "--port=2", "--", "-", "", "--help"});
  require_runs(outcome);
  CHECK(outcome.config.port == 1);
  CHECK_FALSE(outcome.config.devconsole);
  CHECK(outcome.config.command == "cat");
  CHECK(outcome.config.command_args ==
        std::vector<std::string>{"--devconsole", "-n", "--port=2", "--", "-", "", "--help"});
}

TEST_CASE("-- ends the options", "[cli_parse_args_test]") {
  const ParseOutcome dashed = parse({"--port=1", "--", "--port=2", "-x"});
  require_runs(dashed);
  CHECK(dashed.config.port == 1);
  CHECK(dashed.config.command == "--port=2");
  CHECK(dashed.config.command_args == std::vector<std::string>{"-x"});

  const ParseOutcome plain = parse({"--", "cat", "-n"});
  require_runs(plain);
  CHECK(plain.config.command == "cat");
  CHECK(plain.config.command_args == std::vector<std::string>{"-n"});

  require_fails(parse({"--"}), 1, "Please specify COMMAND");
}

TEST_CASE("a lone dash is COMMAND, as in Go", "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse({"-", "x"});
  require_runs(outcome);
  CHECK(outcome.config.command == "-");
  CHECK(outcome.config.command_args == std::vector<std::string>{"x"});
}

TEST_CASE("scalar repeats keep the last value; lists add up", "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse(
      {"--port=1", "-port", "2", "--origin=a", "--origin", "b", "--loglevel=debug",
       "-loglevel=error", "--binary", "--binary=false", "--closems=5", "--closems=6",
       "--address=127.0.0.1", "-address", "[::1]", "--header", "A: 1", "--header=B: 2",
       "--header-ws=C: 3", "--header-ws=D: 4", "--header-http=E: 5", "--maxmessage=1K",
       "--maxframesize=2K", "cat"});
  require_runs(outcome);
  const Config& config = outcome.config;
  CHECK(config.port == 2);
  CHECK(config.origin == "b");
  CHECK(config.loglevel == LogLevel::Error);
  CHECK_FALSE(config.binary);
  CHECK(config.closems == 6u);
  CHECK(config.max_message == 2048u);
  CHECK(config.addresses == std::vector<std::string>{"127.0.0.1", "[::1]"});
  CHECK(config.headers == std::vector<std::string>{"A: 1", "B: 2"});
  CHECK(config.headers_ws == std::vector<std::string>{"C: 3", "D: 4"});
  CHECK(config.headers_http == std::vector<std::string>{"E: 5"});
}

TEST_CASE("every option reaches its Config field", "[cli_parse_args_test]") {
  const ParseOutcome outcome = parse(
      {"--port=9000", "--maxforks=7", "--closems=250", "--passenv=HOME", "--sameorigin",
       "--staticdir=/s", "--cgidir=/c", "--devconsole", "--ssl", "--sslcert=c.pem",
       "--sslkey=k.pem", "--sslca=ca.pem", "--redirport=8000", "--reverselookup",
       "--unixsocket=/tmp/ws.sock", "--pingms=3000", "--passstderr", "--loglevel=none", "cat"});
  require_runs(outcome);
  const Config& config = outcome.config;
  CHECK(config.port == 9000);
  CHECK(config.maxforks == 7);
  CHECK(config.closems == 250u);
  CHECK(config.passenv == "HOME");
  CHECK(config.sameorigin);
  CHECK(config.staticdir == "/s");
  CHECK(config.cgidir == "/c");
  CHECK(config.devconsole);
  CHECK(config.ssl);
  CHECK(config.sslcert == "c.pem");
  CHECK(config.sslkey == "k.pem");
  CHECK(config.sslca == "ca.pem");
  CHECK(config.redirport == 8000);
  CHECK(config.reverselookup);
  CHECK(config.unixsocket == "/tmp/ws.sock");
  CHECK(config.pingms == 3000u);
  CHECK(config.passstderr);
  CHECK(config.loglevel == LogLevel::None);
}

TEST_CASE("--dir may replace COMMAND but not accompany it", "[cli_parse_args_test]") {
  const ParseOutcome dir = parse({"--dir=/srv/ws"});
  require_runs(dir);
  CHECK(dir.config.dir == "/srv/ws");
  CHECK(dir.config.command.empty());

  require_fails(parse({"--dir=/srv/ws", "cat"}), 1, "Ambiguous");
}

TEST_CASE("TLS flags must come together", "[cli_parse_args_test]") {
  require_fails(parse({"--ssl", "cat"}), 1,
                "Please specify both --sslcert and --sslkey when requesting --ssl.");
  require_fails(parse({"--ssl", "--sslcert=c", "cat"}), 1, "--sslkey");
  require_fails(parse({"--sslcert=c", "cat"}), 1,
                "You should not be using --ssl* flags when there is no --ssl option.");
}

TEST_CASE("--maxmessage takes bytes with optional binary suffixes", "[cli_parse_args_test]") {
  const auto size_of = [](const char* word) {
    const ParseOutcome outcome = parse({word, "cat"});
    require_runs(outcome);
    return outcome.config.max_message;
  };
  CHECK(size_of("--maxmessage=0") == 0u);
  CHECK(size_of("--maxmessage=1000") == 1000u);
  CHECK(size_of("--maxmessage=64K") == 64u * 1024);
  CHECK(size_of("--maxmessage=64k") == 64u * 1024);
  CHECK(size_of("--maxmessage=16M") == 16u * 1024 * 1024);
  CHECK(size_of("--maxmessage=16MiB") == 16u * 1024 * 1024);
  CHECK(size_of("--maxmessage=1G") == 1024u * 1024 * 1024);
  CHECK(size_of("-maxframesize=100") == 100u);

  require_fails(parse({"--maxmessage=-1", "cat"}), 2, "invalid value \"-1\" for flag -maxmessage");
  require_fails(parse({"--maxmessage=1X", "cat"}), 2, "-maxmessage");
  require_fails(parse({"--maxmessage=lots", "cat"}), 2, "-maxmessage");
}

TEST_CASE("integers follow Go's base prefixes and range checks", "[cli_parse_args_test]") {
  const ParseOutcome hex = parse({"--port=0x10", "cat"});
  require_runs(hex);
  CHECK(hex.config.port == 16);

  require_fails(parse({"--port=abc", "cat"}), 2, "invalid value \"abc\" for flag -port");
  require_fails(parse({"--port=", "cat"}), 2, "invalid value \"\" for flag -port");
  require_fails(parse({"--port= 5", "cat"}), 2, "-port");
  require_fails(parse({"--port=99999999999", "cat"}), 2, "-port");
  require_fails(parse({"--maxforks=1.5", "cat"}), 2, "-maxforks");
  require_fails(parse({"--closems=-1", "cat"}), 2, "invalid value \"-1\" for flag -closems");
  require_fails(parse({"--closems=4294967296", "cat"}), 2, "-closems");
  require_fails(parse({"--pingms=-5", "cat"}), 2, "-pingms");
  require_fails(parse({"--redirport=x", "cat"}), 2, "-redirport");
}

TEST_CASE("the first bad value is the one reported", "[cli_parse_args_test]") {
  require_fails(parse({"--closems=x", "--port=y", "cat"}), 2, "-closems");
  require_fails(parse({"--port=1", "--port=y", "cat"}), 2, "\"y\" for flag -port");
}

TEST_CASE("an option without its value is a syntax error", "[cli_parse_args_test]") {
  require_fails(parse({"--port"}), 2, "flag needs an argument: -port");
  require_fails(parse({"--binary", "-origin"}), 2, "flag needs an argument: -origin");
}

TEST_CASE("unknown options exit 2 with Go's wording and a hint", "[cli_parse_args_test]") {
  for (const char* word : {"--bogus", "-bogus", "--bogus=1", "-x", "--Port=1"}) {
    INFO(word);
    const ParseOutcome outcome = parse({word, "cat"});
    require_fails(outcome, 2, "flag provided but not defined: -");
    CHECK(contains(outcome.stderr_text, "--help"));
  }
  require_fails(parse({"--bogus=1", "cat"}), 2, "flag provided but not defined: -bogus\n");
  // After COMMAND an unknown option is COMMAND's business.
  require_runs(parse({"cat", "--bogus"}));
}

TEST_CASE("malformed option words exit 2", "[cli_parse_args_test]") {
  require_fails(parse({"---port=1", "cat"}), 2, "bad flag syntax: ---port=1");
  require_fails(parse({"--=x", "cat"}), 2, "bad flag syntax: --=x");
  require_fails(parse({"-=x", "cat"}), 2, "bad flag syntax: -=x");
}

TEST_CASE("an unknown --loglevel exits 1 with websocketd's wording", "[cli_parse_args_test]") {
  require_fails(parse({"--loglevel=loud", "cat"}), 1,
                "Incorrect loglevel flag 'loud'. Use --help to see allowed values.");
  require_fails(parse({"--loglevel=DEBUG", "cat"}), 1, "Incorrect loglevel flag 'DEBUG'");
  // websocketd checks the level before --version.
  require_fails(parse({"--loglevel=x", "--version"}), 1, "Incorrect loglevel flag 'x'");
}

TEST_CASE("every log level name parses", "[cli_parse_args_test]") {
  const std::pair<const char*, LogLevel> levels[] = {
      {"debug", LogLevel::Debug}, {"trace", LogLevel::Trace}, {"access", LogLevel::Access},
      {"info", LogLevel::Info},   {"error", LogLevel::Error}, {"fatal", LogLevel::Fatal},
      {"none", LogLevel::None}};
  for (const auto& [name, expected] : levels) {
    INFO(name);
    LogLevel level = LogLevel::Access;
    REQUIRE(parse_log_level(name, level));
    CHECK(level == expected);
    const ParseOutcome outcome = parse({"-loglevel", name, "cat"});
    require_runs(outcome);
    CHECK(outcome.config.loglevel == expected);
  }
  LogLevel untouched = LogLevel::Info;
  CHECK_FALSE(parse_log_level("verbose", untouched));
  CHECK_FALSE(parse_log_level("", untouched));
  CHECK(untouched == LogLevel::Info);
}

TEST_CASE("no COMMAND exits 1", "[cli_parse_args_test]") {
  const ParseOutcome empty = parse({});
  require_fails(empty, 1, "Command line arguments are missing.");
  CHECK(contains(empty.stderr_text, "wsbridge [options] COMMAND"));

  require_fails(parse({"--port=8080"}), 1,
                "Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.");
  require_fails(parse({"--version=false"}), 1, "Please specify COMMAND");
  require_fails(parse({""}), 1, "COMMAND must not be an empty string");

  const char* const argv_none[] = {nullptr};
  require_fails(parse_args(0, argv_none), 1, "Command line arguments are missing.");
  require_fails(parse_args(3, nullptr), 1, "Command line arguments are missing.");
}

TEST_CASE("odd input never escapes as an exception", "[cli_parse_args_test]") {
  const std::vector<std::vector<const char*>> inputs = {
      {"-"}, {"--"}, {"---"}, {"-="}, {"--=="}, {"-port=="}, {"--port==1", "cat"},
      {"--address=[", "cat"}, {"--address=]", "cat"}, {"--header", "[a,b]", "cat"},
      {"--maxmessage=99999999999999999999G", "cat"}, {"--maxmessage=K", "cat"},
      {"--port=0b101", "cat"}, {"--loglevel="}, {"-h=x"}, {"--binary=", "x"},
      {"--port", nullptr, "cat"}, {nullptr}};
  for (const auto& words : inputs) {
    std::vector<const char*> argv{"wsbridge"};
    argv.insert(argv.end(), words.begin(), words.end());
    argv.push_back(nullptr);
    ParseOutcome outcome;
    REQUIRE_NOTHROW(outcome = parse_args(static_cast<int>(argv.size() - 1), argv.data()));
    if (outcome.run) {
      CHECK(outcome.exit_code == 0);
      CHECK(outcome.stderr_text.empty());
    } else {
      CHECK((outcome.exit_code != 0 || !outcome.stdout_text.empty()));
      CHECK((outcome.exit_code == 0 || !outcome.stderr_text.empty()));
    }
  }
}

TEST_CASE("--help, -h and -help print the full help on stdout", "[cli_parse_args_test]") {
  for (const char* word : {"--help", "-h", "-help", "--h", "--help=false"}) {
    INFO(word);
    const ParseOutcome outcome = parse({word});
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exit_code == 0);
    CHECK(outcome.stderr_text.empty());
    CHECK(contains(outcome.stdout_text, "wsbridge [options] COMMAND [ARGS...]"));
    CHECK(contains(outcome.stdout_text, "Examples:"));
    CHECK(contains(outcome.stdout_text, "REMOTE_ADDR"));
  }
  // Go stops at help, so what follows does not matter, but what precedes does.
  CHECK(parse({"--port=1", "--help", "--bogus"}).exit_code == 0);
  require_fails(parse({"--bogus", "--help"}), 2, "flag provided but not defined: -bogus");
  require_fails(parse({"--port=x", "--help"}), 2, "-port");
}

TEST_CASE("--help shows every option with its default", "[cli_parse_args_test]") {
  const std::string help = parse({"--help"}).stdout_text;
  const std::set<std::string> listed = option_names_in_help(help);
  for (const std::string& name : kAllOptions) {
    INFO(name);
    CHECK(listed.count(name) == 1);
  }
  CHECK(listed.size() == kAllOptions.size());
  CHECK(contains(help, "(default: PATH,LD_LIBRARY_PATH)"));
  CHECK(contains(help, "(default: 16M)"));
  CHECK(contains(help, "(default: access)"));
  CHECK_FALSE(contains(help, "not yet supported"));  // every option is implemented
  for (const char* level : {"debug", "trace", "access", "info", "error", "fatal", "none"}) {
    CHECK(contains(help, level));
  }
  // Each option line, or the lines under it, states a default, except the
  // three that only print something.
  const std::size_t defaults = [&help] {
    std::size_t count = 0;
    for (std::size_t at = help.find("(default: "); at != std::string::npos;
         at = help.find("(default: ", at + 1)) {
      ++count;
    }
    return count;
  }();
  CHECK(defaults == kAllOptions.size() - 4);  // help, version, license, and the alias
}

TEST_CASE("room options: defaults, values, and refused without --broadcast or with several loops",
          "[cli_parse_args_test]") {
  const Config defaults;
  CHECK_FALSE(defaults.broadcast);
  CHECK(defaults.room_queue == 1024u * 1024);
  CHECK(defaults.slow_client == wsbridge::cli::SlowClientPolicy::Close);
  CHECK(defaults.room_max_clients == 0u);
  CHECK(defaults.room_linger_ms == 0u);
  CHECK(defaults.room_replay == 0u);
  CHECK_FALSE(defaults.room_tagged);

  const ParseOutcome rooms = parse({"--broadcast", "--room-queue=64K", "--slow-client=wait", "--room-max-clients=1000000",
                                    "--room-linger=0.5", "--room-replay=100000", "cat"});
  require_runs(rooms);
  CHECK(rooms.config.broadcast);
  CHECK(rooms.config.workers == 1u);  // one loop holds every room
  CHECK(rooms.config.room_queue == 64u * 1024);
  CHECK(rooms.config.slow_client == wsbridge::cli::SlowClientPolicy::Wait);
  CHECK(rooms.config.room_max_clients == 1000000u);
  CHECK(rooms.config.room_linger_ms == 500u);
  CHECK(rooms.config.room_replay == 100000u);
  CHECK(parse({"--broadcast", "--slow-client=drop", "cat"}).config.slow_client ==
        wsbridge::cli::SlowClientPolicy::Drop);
  require_runs(parse({"--broadcast", "--workers=1", "cat"}));

  const ParseOutcome many_loops = parse({"--broadcast", "--workers=2", "cat"});
  CHECK_FALSE(many_loops.run);
  CHECK(many_loops.exit_code == 2);
  CHECK(contains(many_loops.stderr_text, "--broadcast needs one event loop"));
  for (const char* word : {"--room-queue=1M", "--slow-client=drop", "--room-max-clients=2", "--room-linger=1",
                           "--room-replay=5", "--room-tagged", "--room-broker=redis://127.0.0.1:6379"}) {
    INFO(word);
    const ParseOutcome alone = parse({word, "cat"});
    CHECK_FALSE(alone.run);
    CHECK(alone.exit_code == 2);
    CHECK(contains(alone.stderr_text, "needs --broadcast"));
  }
}

TEST_CASE("--room-broker: host, port and database, and what it cannot go with", "[cli_parse_args_test]") {
  const Config defaults;
  CHECK(defaults.room_broker_host.empty());

  const ParseOutcome plain = parse({"--broadcast", "--room-broker=redis://127.0.0.1:6379", "cat"});
  require_runs(plain);
  CHECK(plain.config.room_broker_host == "127.0.0.1");
  CHECK(plain.config.room_broker_port == 6379);
  CHECK(plain.config.room_broker_db == 0);

  const ParseOutcome named = parse({"--broadcast", "--room-broker=redis://[::1]:0x1a85/3", "cat"});
  require_runs(named);
  CHECK(named.config.room_broker_host == "::1");
  CHECK(named.config.room_broker_port == 6789);
  CHECK(named.config.room_broker_db == 3);
  CHECK(parse({"--broadcast", "--room-broker=redis://redis.internal:7000/15", "cat"}).config.room_broker_host ==
        "redis.internal");

  const ParseOutcome tagged = parse({"--broadcast", "--room-tagged", "--room-broker=redis://127.0.0.1:6379", "cat"});
  CHECK_FALSE(tagged.run);
  CHECK(tagged.exit_code == 2);
  CHECK(contains(tagged.stderr_text, "--room-tagged cannot be used with --room-broker"));
}

TEST_CASE("every option in --help is documented in man/wsbridge.1", "[cli_parse_args_test]") {
  const std::string path = repo_root() + "/man/wsbridge.1";
  std::string man = read_file(path);
  INFO("man page: " << path);
  REQUIRE_FALSE(man.empty());
  man = unescape_minus(man);
  for (const std::string& name : option_names_in_help(parse({"--help"}).stdout_text)) {
    INFO(name);
    CHECK(mentions_option(man, name));
  }
  for (const char* section : {".SH NAME", ".SH SYNOPSIS", ".SH DESCRIPTION", ".SH OPTIONS",
                              ".SH ENVIRONMENT", ".SH EXIT STATUS", ".SH EXAMPLES",
                              ".SH DIFFERENCES FROM WEBSOCKETD", ".SH SEE ALSO"}) {
    CHECK(contains(man, section));
  }
  for (const char* value : {"PATH,LD_LIBRARY_PATH", "16M", "access"}) {
    CHECK(contains(man, value));
  }
}

TEST_CASE("--version and --license print on stdout and exit 0", "[cli_parse_args_test]") {
  const ParseOutcome version = parse({"--version"});
  CHECK_FALSE(version.run);
  CHECK(version.exit_code == 0);
  CHECK(version.stderr_text.empty());
  CHECK(version.stdout_text.rfind(std::string("wsbridge ") + WSBRIDGE_VERSION, 0) == 0);
  CHECK(contains(version.stdout_text, "websocketd"));

  // Like websocketd, --version wins over COMMAND and over --license.
  CHECK(parse({"-version", "cat"}).stdout_text == version.stdout_text);
  CHECK(parse({"--license", "--version"}).stdout_text == version.stdout_text);

  const ParseOutcome license = parse({"--license"});
  CHECK_FALSE(license.run);
  CHECK(license.exit_code == 0);
  CHECK(license.stderr_text.empty());
  CHECK(contains(license.stdout_text, WSBRIDGE_VERSION));
  CHECK(contains(license.stdout_text, "Copyright"));

  require_fails(parse({"--version", "--bogus"}), 2, "-bogus");
}

TEST_CASE("--user and --group are parsed, in every spelling, default empty", "[cli_parse_args_test]") {
  const ParseOutcome defaults = parse({"cat"});
  REQUIRE(defaults.run);
  CHECK(defaults.config.user.empty());
  CHECK(defaults.config.group.empty());
  for (const auto& words : {std::initializer_list<const char*>{"--user=nobody", "--group=nogroup", "cat"},
                            std::initializer_list<const char*>{"-user", "nobody", "-group=nogroup", "cat"},
                            std::initializer_list<const char*>{"--user", "nobody", "--group", "nogroup", "cat"}}) {
    const ParseOutcome outcome = parse(words);
    REQUIRE(outcome.run);
    CHECK(outcome.config.user == "nobody");
    CHECK(outcome.config.group == "nogroup");
    CHECK(outcome.config.command == "cat");
  }
  // Numeric ids stay text; resolving them is the privilege drop's job.
  const ParseOutcome numeric = parse({"--user=65534", "cat"});
  REQUIRE(numeric.run);
  CHECK(numeric.config.user == "65534");
  CHECK(numeric.config.group.empty());
}

TEST_CASE("--workers takes 0 to 64 in every spelling", "[cli_parse_args_test]") {
  for (const auto& words : {std::initializer_list<const char*>{"--workers=2", "cat"},
                            std::initializer_list<const char*>{"-workers", "2", "cat"},
                            std::initializer_list<const char*>{"--workers", "2", "cat"}}) {
    const ParseOutcome outcome = parse(words);
    REQUIRE(outcome.run);
    CHECK(outcome.config.workers == 2u);
  }
  CHECK(parse({"--workers=0", "cat"}).config.workers == 0u);
  CHECK(parse({"--workers=64", "cat"}).config.workers == 64u);
  for (const char* bad : {"--workers=65", "--workers=-1", "--workers=two", "--workers="}) {
    INFO(bad);
    const ParseOutcome outcome = parse({bad, "cat"});
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exit_code == 2);
  }
}
