// Tests for src/cli/value_checks.cpp through parse_args: every option that
// takes a value is refused, with exit 2 and a message naming the option,
// the value and what is allowed, when the value is out of range, negative,
// empty, not a number or too large to hold; and its boundary values pass.
#include "cli/value_checks.h"

#include <catch2/catch.hpp>

#include <initializer_list>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "wsbridge/cli/config.h"
#include "wsbridge/cli/option_limits.h"

using wsbridge::cli::Config;
using wsbridge::cli::parse_args;
using wsbridge::cli::ParseOutcome;

namespace {

ParseOutcome parse_one(const std::string& word) {
  const char* argv[] = {"wsbridge", word.c_str(), "cat", nullptr};
  return parse_args(3, argv);
}

// "--port=99999" → "port".
std::string option_of(const std::string& word) {
  return word.substr(2, word.find('=') - 2);
}

struct Refusal {
  std::string word;  // "--name=value"
  std::string why;   // the start of the reason after "for flag -name: "
};

const std::string kTooLongPath = "/tmp/" + std::string(103, 's');  // 108 bytes

const std::vector<Refusal> kRefusals = {
    {"--port=65536", "out of range; allowed: 1 to 65535, or 0 for 80 (443 with --ssl)"},
    {"--port=99999", "out of range"},
    {"--port=-1", "out of range"},
    {"--port=0x10000", "out of range"},
    {"--port=99999999999999999999", "out of range"},
    {"--port=", "not an integer"},
    {"--port=http", "not an integer"},
    {"--port=80.0", "not an integer"},
    {"--port= 80", "not an integer"},
    {"--port=+80", "not an integer"},
    {"--redirport=70000", "out of range; allowed: 1 to 65535, or 0 for none"},
    {"--redirport=-1", "out of range"},
    {"--redirport=", "not an integer"},
    {"--redirport=https", "not an integer"},
    {"--redirport=18446744073709551616", "out of range"},
    {"--maxforks=2147483648", "out of range; allowed: an integer; 0 or less means unlimited"},
    {"--maxforks=-2147483649", "out of range"},
    {"--maxforks=99999999999999999999", "out of range"},
    {"--maxforks=", "not an integer"},
    {"--maxforks=many", "not an integer"},
    {"--maxforks=1.5", "not an integer"},
    {"--closems=86400001", "out of range; allowed: 0 to 86400000 (milliseconds, up to one day)"},
    {"--closems=-1", "out of range"},
    {"--closems=4294967296", "out of range"},
    {"--closems=99999999999999999999", "out of range"},
    {"--closems=", "not an integer"},
    {"--closems=soon", "not an integer"},
    {"--pingms=86400001", "out of range; allowed: 0 to 86400000"},
    {"--pingms=-5", "out of range"},
    {"--pingms=4294967296", "out of range"},
    {"--pingms=", "not an integer"},
    {"--pingms=1s", "not an integer"},
    {"--workers=65", "out of range; allowed: 0 to 64 (0: one per CPU core)"},
    {"--workers=-1", "out of range"},
    {"--workers=4294967296", "out of range"},
    {"--workers=", "not an integer"},
    {"--workers=two", "not an integer"},
    {"--maxmessage=1099511627777", "out of range; allowed: 0 (unlimited) to 1T"},
    {"--maxmessage=2T", "out of range"},
    {"--maxmessage=17179869184G", "out of range"},
    {"--maxmessage=99999999999999999999", "out of range"},
    {"--maxmessage=-1", "not a byte count"},
    {"--maxmessage=", "not a byte count"},
    {"--maxmessage=lots", "not a byte count"},
    {"--maxmessage=1X", "not a byte count"},
    {"--maxmessage=K", "not a byte count"},
    {"--maxframesize=2T", "out of range"},
    {"--shutdown-timeout=86401", "out of range; allowed: 0.001 to 86400 (seconds)"},
    {"--shutdown-timeout=0", "out of range"},
    {"--shutdown-timeout=0.0001", "out of range"},
    {"--shutdown-timeout=-1", "out of range"},
    {"--shutdown-timeout=1e400", "out of range"},
    {"--shutdown-timeout=", "not a number of seconds"},
    {"--shutdown-timeout=soon", "not a number of seconds"},
    {"--shutdown-timeout=nan", "not a number of seconds"},
    {"--ping-interval=86401", "out of range; allowed: 0 (off), or 0.001 to 86400 (seconds)"},
    {"--ping-interval=0.0004", "out of range"},
    {"--ping-interval=-0.5", "out of range"},
    {"--ping-interval=1e400", "out of range"},
    {"--ping-interval=", "not a number of seconds"},
    {"--ping-interval=500ms", "not a number of seconds"},
    {"--ping-interval=inf", "not a number of seconds"},
    {"--unixsocket-mode=10000", "not a file mode; allowed: octal, 0 to 7777"},
    {"--unixsocket-mode=-1", "not a file mode"},
    {"--unixsocket-mode=", "not a file mode"},
    {"--unixsocket-mode=0888", "not a file mode"},
    {"--unixsocket-mode=rw", "not a file mode"},
    {"--unixsocket-mode=99999999999999999999", "not a file mode"},
    {"--header=bad", "no ':' after the header name; allowed: \"Name: value\""},
    {"--header=", "no ':' after the header name"},
    {"--header=: value", "empty header name"},
    {"--header=Bad Name: v", "header name has a character not allowed"},
    {"--header=X-A: a\r\nInjected: 1", "header value has a control character"},
    {"--header-ws=nocolon", "no ':' after the header name"},
    {"--header-ws=X: \n", "header value has a control character"},
    {"--header-http=(x): y", "header name has a character not allowed"},
    {"--header-http=", "no ':' after the header name"},
    {"--address=::1", "an IPv6 address needs brackets, e.g. [::1]"},
    {"--address=[::1", "not an IPv6 address in brackets"},
    {"--address=[1.2.3.4]", "not an IPv6 address in brackets"},
    {"--address=127.0.0.1:8080", "the port goes in --port"},
    {"--address=bad host", "not an address or host name"},
    {"--address=-lead.example", "not an address or host name"},
    {"--address=unix:", "no path after unix:"},
    {"--deflate-threshold=-1", "not a byte count"},
    {"--deflate-threshold=2T", "out of range"},
    {"--deflate-threshold=", "not a byte count"},
    {"--deflate-threshold=64Q", "not a byte count"},
    {"--auth-timeout=0", "out of range"},
    {"--auth-timeout=-1", "out of range"},
    {"--auth-timeout=86401", "out of range"},
    {"--auth-timeout=5s", "not a number of seconds"},
    {"--auth-timeout=", "not a number of seconds"},
    {"--maxconn-per-client=-1", "out of range"},
    {"--maxconn-per-client=1000001", "out of range"},
    {"--maxconn-per-client=", "not an integer"},
    {"--maxconn-per-client=ten", "not an integer"},
    {"--maxconn-per-client=99999999999999999999", "out of range"},
    {"--connect-rate=-1/s", "out of range; allowed: N/s"},
    {"--connect-rate=1000001", "out of range"},
    {"--connect-rate=", "not a rate"},
    {"--connect-rate=5/m", "not a rate"},
    {"--connect-rate=/s", "not a rate"},
    {"--connect-rate=99999999999999999999/s", "out of range"},
    {"--metrics=9101", "no :PORT; allowed: HOST:PORT"},
    {"--metrics=", "no :PORT"},
    {"--metrics=127.0.0.1:0", "the port is not 1 to 65535"},
    {"--metrics=127.0.0.1:65536", "the port is not 1 to 65535"},
    {"--metrics=127.0.0.1:-1", "the port is not 1 to 65535"},
    {"--metrics=127.0.0.1:", "the port is not 1 to 65535"},
    {"--metrics=127.0.0.1:99999999999999999999", "the port is not 1 to 65535"},
    {"--metrics=:9101", "no host (the metrics have no authentication: name the interface)"},
    {"--metrics=::1:9101", "an IPv6 address needs brackets, e.g. [::1]:9101"},
    {"--metrics=[::1:9101", "not an IPv6 address in brackets"},
    {"--metrics=bad host:9101", "not an address or host name"},
    {"--address=unix:" + kTooLongPath, "too long for a socket address; allowed: a path of at most 107 bytes"},
    {"--unixsocket=" + kTooLongPath, "too long for a socket address"},
    {"--trusted-proxy=10.0.0.0/33", "bad prefix length in '10.0.0.0/33'; allowed: addresses and CIDR ranges"},
    {"--trusted-proxy=proxy.example", "not an IP address or range: 'proxy.example'"},
    {"--trusted-proxy=", "no address or range"},
    {"--trusted-proxy=,", "no address or range"},
    {"--room-queue=1K", "out of range; allowed: 64K to 1G, in bytes with an optional suffix K, M or G"},
    {"--room-queue=2G", "out of range"},
    {"--room-queue=", "not a byte count"},
    {"--room-max-clients=-1", "out of range; allowed: 0 (no limit) to 1000000"},
    {"--room-max-clients=1000001", "out of range"},
    {"--room-max-clients=many", "not an integer"},
    {"--room-linger=-1", "out of range; allowed: 0 to 86400 (seconds)"},
    {"--room-linger=86401", "out of range"},
    {"--room-linger=5s", "not a number of seconds"},
    {"--slow-client=later", "use close, drop or wait"},
    {"--room-replay=-1", "out of range; allowed: 0 (none) to 100000"},
    {"--room-replay=100001", "out of range"},
    {"--room-replay=all", "not an integer"},
    {"--room-broker=http://127.0.0.1:6379", "not a redis:// URL; allowed: redis://HOST:PORT or redis://HOST:PORT/DB"},
    {"--room-broker=rediss://127.0.0.1:6379", "not a redis:// URL"},
    {"--room-broker=redis://127.0.0.1", "no :PORT"},
    {"--room-broker=redis://127.0.0.1:0", "the port is not 1 to 65535"},
    {"--room-broker=redis://127.0.0.1:65536", "the port is not 1 to 65535"},
    {"--room-broker=redis://127.0.0.1:port", "the port is not 1 to 65535"},
    {"--room-broker=redis://:6379", "no host"},
    {"--room-broker=redis://127.0.0.1:6379/", "the database is not 0 to 2147483647"},
    {"--room-broker=redis://127.0.0.1:6379/-1", "the database is not 0 to 2147483647"},
    {"--room-broker=redis://127.0.0.1:6379/2147483648", "the database is not 0 to 2147483647"},
    {"--room-broker=redis://127.0.0.1:6379/one", "the database is not 0 to 2147483647"},
    {"--room-broker=redis://::1:6379", "an IPv6 address needs brackets"},
    {"--room-broker=redis://bad host:6379", "not an address or host name"},
    {"--exit-close-codes=5000", "not one of the choices; allowed: 1011, 4000"},
    {"--exit-close-codes=", "not one of the choices"},
    {"--framing=lines", "not one of the choices; allowed: line, nul, length"},
    {"--framing=", "not one of the choices"},
    {"--subprotocol=chat v2", "'chat v2' is not a protocol name; allowed: protocol names"},
    {"--subprotocol=chat,", "an empty protocol name"},
    {"--subprotocol=", "an empty protocol name"},
    {"--subprotocol=a,b/c", "'b/c' is not a protocol name"},
};

// Options whose value is free text, or a word checked elsewhere (exit 1, as
// websocketd's --loglevel), or a path opened later (readable_files.h), or a
// program found as COMMAND is (--auth, by main: test_auth.py checks it).
const std::set<std::string> kUncheckedHere = {"passenv", "origin",  "user",   "group",  "loglevel",
                                              "logformat", "dir",   "staticdir", "cgidir", "sslcert",
                                              "sslkey",  "sslca",   "auth"};

// Every long option that takes a value, read from --help ("  --name=VALUE").
std::set<std::string> value_options_in_help() {
  const char* argv[] = {"wsbridge", "--help", nullptr};
  std::istringstream lines(parse_args(2, argv).stdout_text);
  std::set<std::string> names;
  std::string line;
  while (std::getline(lines, line)) {
    if (line.rfind("  --", 0) != 0) continue;
    const std::size_t eq = line.find('=');
    const std::size_t gap = line.find("  ", 2);
    if (eq == std::string::npos || eq > gap) continue;  // a flag
    std::string head = line.substr(2, eq - 2);          // "--maxmessage, --maxframesize"
    for (std::size_t at = head.find("--"); at != std::string::npos; at = head.find("--", at + 2)) {
      const std::size_t end = head.find(',', at);
      names.insert(head.substr(at + 2, (end == std::string::npos ? head.size() : end) - at - 2));
    }
  }
  return names;
}

}  // namespace

TEST_CASE("every bad value is refused with exit 2, the option, the value and what is allowed",
          "[cli_value_checks_test]") {
  for (const Refusal& refusal : kRefusals) {
    INFO(refusal.word);
    const ParseOutcome outcome = parse_one(refusal.word);
    INFO("stderr: " << outcome.stderr_text);
    CHECK_FALSE(outcome.run);
    CHECK(outcome.exit_code == 2);
    CHECK(outcome.stdout_text.empty());
    const std::string value = refusal.word.substr(refusal.word.find('=') + 1);
    const std::string expected =
        "invalid value \"" + value + "\" for flag -" + option_of(refusal.word) + ": " + refusal.why;
    CHECK(outcome.stderr_text.find(expected) != std::string::npos);
  }
}

TEST_CASE("the refusal table covers every option that takes a checked value", "[cli_value_checks_test]") {
  std::set<std::string> refused;
  for (const Refusal& refusal : kRefusals) refused.insert(option_of(refusal.word));
  for (const std::string& name : value_options_in_help()) {
    INFO(name);
    CHECK((refused.count(name) == 1 || kUncheckedHere.count(name) == 1));
  }
  CHECK(refused.count("port") == 1);  // the help was read
}

TEST_CASE("boundary values are accepted and stored as given", "[cli_value_checks_test]") {
  const auto config_of = [](const std::string& word) {
    const ParseOutcome outcome = parse_one(word);
    INFO(word << " stderr: " << outcome.stderr_text);
    REQUIRE(outcome.run);
    return outcome.config;
  };
  CHECK(config_of("--port=0").port == 0);
  CHECK(config_of("--port=1").port == 1);
  CHECK(config_of("--port=65535").port == 65535);
  CHECK(config_of("--port=0x50").port == 80);
  CHECK(config_of("--port=010").port == 8);  // Go reads a leading 0 as octal
  CHECK(config_of("--redirport=65535").redirport == 65535);
  CHECK(config_of("--maxforks=-2147483648").maxforks == -2147483647 - 1);
  CHECK(config_of("--maxforks=2147483647").maxforks == 2147483647);
  CHECK(config_of("--closems=86400000").closems == 86400000u);
  CHECK(config_of("--pingms=0").pingms == 0u);
  CHECK(config_of("--pingms=86400000").pingms == 86400000u);
  CHECK(config_of("--workers=64").workers == 64u);
  CHECK(config_of("--exit-close-codes=4000").exit_status_close_codes);
  CHECK_FALSE(config_of("--exit-close-codes=1011").exit_status_close_codes);
  CHECK(config_of("--framing=nul").framing == wsbridge::cli::Framing::Nul);
  CHECK(config_of("--framing=length").framing == wsbridge::cli::Framing::Length);
  CHECK(config_of("--framing=line").framing == wsbridge::cli::Framing::Line);
  CHECK(config_of("--subprotocol=v2.chat,mqtt").subprotocols == std::vector<std::string>{"v2.chat", "mqtt"});
  CHECK(config_of("--maxmessage=0").max_message == 0u);
  CHECK(config_of("--maxmessage=1T").max_message == wsbridge::cli::kMaxMessageLimit);
  CHECK(config_of("--maxmessage=1099511627776").max_message == wsbridge::cli::kMaxMessageLimit);
  CHECK(config_of("--maxmessage=3KiB").max_message == 3072u);
  CHECK(config_of("--shutdown-timeout=0.001").shutdown_timeout_ms == 1u);
  CHECK(config_of("--shutdown-timeout=86400").shutdown_timeout_ms == 86400000u);
  CHECK(config_of("--ping-interval=0").pingms == 0u);
  CHECK(config_of("--ping-interval=0.5").pingms == 500u);
  CHECK(config_of("--ping-interval=86400").pingms == 86400000u);
  CHECK(config_of("--unixsocket-mode=0").unixsocket_mode == 0u);
  CHECK(config_of("--unixsocket-mode=7777").unixsocket_mode == 07777u);
  CHECK(config_of("--unixsocket-mode=0660").unixsocket_mode == 0660u);
  CHECK(config_of("--header=X-Empty:").headers == std::vector<std::string>{"X-Empty:"});
  CHECK(config_of("--header=X-Tab: a\tb").headers == std::vector<std::string>{"X-Tab: a\tb"});
  CHECK(config_of("--address=").addresses == std::vector<std::string>{""});
  CHECK(config_of("--address=localhost").addresses == std::vector<std::string>{"localhost"});
  CHECK(config_of("--address=[fe80::1%lo]").addresses == std::vector<std::string>{"[fe80::1%lo]"});
  const std::string longest = "/tmp/" + std::string(102, 's');  // 107 bytes
  CHECK(config_of("--unixsocket=" + longest).unixsocket == longest);
  CHECK(config_of("--address=unix:" + longest).unixsocket == longest);
  CHECK(config_of("--deflate-threshold=1K").deflate_threshold == 1024);
  CHECK(config_of("--deflate-threshold=0").deflate_threshold == 0);
  CHECK(config_of("--port=1").deflate_threshold == 64);
  CHECK(config_of("--auth-timeout=0.25").auth_timeout_ms == 250);
  CHECK(config_of("--port=1").auth_timeout_ms == 5000);  // the default
  CHECK(config_of("--maxconn-per-client=4").maxconn_per_client == 4);
  CHECK(config_of("--connect-rate=10/s").connect_rate == 10);
  CHECK(config_of("--connect-rate=0x10").connect_rate == 16);
  CHECK(config_of("--connect-rate=0").connect_rate == 0);
  CHECK(config_of("--metrics=127.0.0.1:9101").metrics == "127.0.0.1:9101");
  CHECK(config_of("--metrics=[::1]:65535").metrics == "[::1]:65535");
  CHECK(config_of("--metrics=localhost:0x10").metrics == "localhost:16");  // the port as checked, in decimal
  CHECK(config_of("--trusted-proxy=10.0.0.0/8,::1").trusted_proxies == std::vector<std::string>{"10.0.0.0/8,::1"});
}

TEST_CASE("the value parsers read Go's integer forms and binary sizes", "[cli_value_checks_test]") {
  using wsbridge::cli::parse_byte_size;
  using wsbridge::cli::parse_file_mode;
  using wsbridge::cli::parse_integer;
  CHECK(parse_integer("0") == 0);
  CHECK(parse_integer("-0") == 0);
  CHECK(parse_integer("0b101") == 5);
  CHECK(parse_integer("0o17") == 15);
  CHECK(parse_integer("0X1f") == 31);
  CHECK(parse_integer("9223372036854775807") == 9223372036854775807LL);
  CHECK(parse_integer("-9223372036854775808") == -9223372036854775807LL - 1);
  for (const char* bad : {"", "-", "0x", "08", "9223372036854775808", "1_000", " 1", "1 ", "0b2"}) {
    INFO(bad);
    CHECK_FALSE(parse_integer(bad).has_value());
  }
  CHECK(parse_byte_size("16") == 16u);
  CHECK(parse_byte_size("16kb") == 16u * 1024);
  CHECK(parse_byte_size("1TiB") == std::uint64_t{1} << 40);
  CHECK(parse_byte_size("16383P") == std::nullopt);
  CHECK(parse_byte_size("17179869183G") == std::uint64_t{17179869183} << 30);
  CHECK(parse_byte_size("17179869184G") == std::nullopt);
  CHECK(parse_file_mode("00777") == 0777u);
  CHECK(parse_file_mode("000777") == std::nullopt);
}
