// The form and range of every option value, checked while the command line
// is parsed. Each check is a CLI11 validator: it refuses a value with a
// message that says what is allowed, and rewrites an accepted number into
// plain decimal, so the value CLI11 then stores is exactly the one checked
// (CLI11's own conversion would wrap "-1" into an unsigned and read "010"
// differently from Go). Add them with Option::transform: CLI11 discards
// what a validator added with check() writes back.
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace wsbridge::cli {

// Go's strconv.ParseInt(text, 0, 64) in the forms people type: an optional
// '-', then decimal, 0x hex, 0o or leading-0 octal, or 0b binary. No spaces,
// no '+'; nullopt when it is not one or does not fit in 64 bits.
std::optional<long long> parse_integer(const std::string& text);

// A byte count with an optional binary suffix: "64K", "16M", "1GiB", "2t".
// nullopt when malformed or past 2^64.
std::optional<std::uint64_t> parse_byte_size(const std::string& text);

// Seconds, decimals allowed ("30", "0.5"); nullopt when malformed or
// negative, infinity when too large for a double.
std::optional<double> parse_seconds(const std::string& text);

// Seconds as whole milliseconds, rounded to the nearest.
double seconds_to_ms(double seconds);

// An octal file mode up to 07777 ("0660", "600").
std::optional<unsigned> parse_file_mode(const std::string& text);

// An integer from `min` to `max`; `allowed` is how the message words them.
CLI::Validator integer_in(long long min, long long max, std::string allowed);

// A byte count (parse_byte_size) up to `max`, rewritten as plain bytes.
CLI::Validator byte_size_up_to(std::uint64_t max, std::string allowed);

// The same from `min` to `max`.
CLI::Validator byte_size_in(std::uint64_t min, std::uint64_t max, std::string allowed);

// Seconds (parse_seconds) up to `max_ms` once rounded to milliseconds; `zero_allowed` when 0 means "off".
CLI::Validator seconds_up_to(unsigned max_ms, bool zero_allowed, std::string allowed);

// --connect-rate: "N/s" or "N", N from 0 (off) to `max`, rewritten as N.
CLI::Validator connection_rate(long long max);
// --unixsocket-mode.
CLI::Validator file_mode();
// --subprotocol: a comma-separated list of RFC 6455 subprotocol names
// (tokens: visible ASCII without separators), none empty.
CLI::Validator subprotocol_list();
// Splits an accepted --subprotocol value into its names.
std::vector<std::string> split_subprotocols(const std::string& list);
// A value that must be one of `words` exactly (--exit-close-codes,
// --framing); refused with "allowed: " and the words.
CLI::Validator one_of(std::vector<std::string> words);

// --header, --header-ws, --header-http: "Name: value" with a token for a
// name and no line break in the value (it is copied into responses).
CLI::Validator header_line();

// --address: empty (all interfaces), an IPv4 address, a bracketed IPv6
// address, a host name, or unix:PATH.
CLI::Validator listen_address();

// --metrics: HOST:PORT, the host an address or a name (never empty: the
// endpoint has no authentication, so all interfaces must be asked for by
// name, 0.0.0.0 or [::]).
CLI::Validator metrics_address();

// --unixsocket: a path short enough for a socket address (empty: none).
CLI::Validator unix_socket_path();

// --room-broker: redis://HOST:PORT[/DB], the host an address or a name,
// the port 1-65535, the database 0-2147483647; rewritten with plain
// decimal numbers and the database always given.
CLI::Validator room_broker_url();
// Splits an accepted --room-broker value into its host, port and database.
void split_room_broker(const std::string& url, std::string& host, int& port, int& db);

// --trusted-proxy: a comma-separated list of addresses and CIDR ranges.
CLI::Validator proxy_ranges();

}  // namespace wsbridge::cli
