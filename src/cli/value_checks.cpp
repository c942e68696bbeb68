#include "cli/value_checks.h"

#include <arpa/inet.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <functional>
#include <limits>
#include <utility>

#include "wsbridge/bridge/client_address.h"
#include "wsbridge/cli/option_limits.h"
#include "wsbridge/http/token.h"
#include "wsbridge/ws/subprotocol.h"

namespace wsbridge::cli {
namespace {

using http::is_token_char;

bool is_digit_in_base(char c, int base) {
  if (base == 16) return std::isxdigit(static_cast<unsigned char>(c)) != 0;
  return c >= '0' && c < static_cast<char>('0' + base);
}

bool all_digits_in_base(const std::string& digits, int base) {
  if (digits.empty()) return false;
  for (char c : digits) {
    if (!is_digit_in_base(c, base)) return false;
  }
  return true;
}

// Case-insensitive equality for the ASCII suffixes below.
bool same_word(const std::string& a, const char* b) {
  std::size_t i = 0;
  for (; i < a.size() && b[i] != '\0'; ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return i == a.size() && b[i] == '\0';
}

// A validator from a check that returns "" or what is wrong; CLI11 runs it
// on the raw word and stores what it leaves in `value`.
CLI::Validator validator(std::function<std::string(std::string&)> check) {
  return CLI::Validator(std::move(check), "", "");
}

// "-123", "99999999999999999999": a decimal integer, whatever its size.
bool is_decimal(const std::string& text) {
  const std::size_t first = !text.empty() && text.front() == '-' ? 1 : 0;
  if (first == text.size()) return false;
  for (std::size_t i = first; i < text.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(text[i])) == 0) return false;
  }
  return true;
}

// A well-formed size too large for 64 bits: its digits are the only fault.
bool is_size_overflow(const std::string& text) {
  std::size_t digits_end = 0;
  while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end])) != 0) ++digits_end;
  return digits_end != 0 && parse_byte_size("0" + text.substr(digits_end)).has_value();
}

bool is_ipv6_literal(const std::string& text) {
  // A zone ("fe80::1%eth0") is for the resolver; the address before it must be sound.
  const std::string address = text.substr(0, text.find('%'));
  in6_addr parsed{};
  return inet_pton(AF_INET6, address.c_str(), &parsed) == 1;
}

// RFC 1123 host names (IPv4 literals are such names too): labels of
// letters, digits, '-' and '_', none empty or starting with '-'.
bool is_host_name(const std::string& text) {
  if (text.size() > 253) return false;
  std::size_t label_start = 0;
  for (std::size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '.') {
      const std::size_t length = i - label_start;
      if (length == 0 || length > 63 || text[label_start] == '-') return false;
      label_start = i + 1;
    } else if (std::isalnum(static_cast<unsigned char>(text[i])) == 0 && text[i] != '-' && text[i] != '_') {
      return false;
    }
  }
  return true;
}

std::string unix_path_problem(const std::string& path) {
  if (path.size() > kMaxUnixSocketPath) {
    return "too long for a socket address; allowed: a path of at most " + std::to_string(kMaxUnixSocketPath) +
           " bytes";
  }
  if (path.find('\0') != std::string::npos) return "contains a NUL byte";
  return {};
}

}  // namespace

std::optional<long long> parse_integer(const std::string& text) {
  const bool negative = !text.empty() && text.front() == '-';
  std::string digits = negative ? text.substr(1) : text;
  int base = 10;
  if (digits.size() > 1 && digits[0] == '0') {
    const char marker = static_cast<char>(std::tolower(static_cast<unsigned char>(digits[1])));
    base = marker == 'x' ? 16 : marker == 'b' ? 2 : 8;
    digits = digits.substr(marker == 'x' || marker == 'b' || marker == 'o' ? 2 : 1);
  }
  if (!all_digits_in_base(digits, base)) return std::nullopt;
  errno = 0;
  const unsigned long long magnitude = std::strtoull(digits.c_str(), nullptr, base);
  if (errno == ERANGE) return std::nullopt;
  const unsigned long long limit = negative ? 9223372036854775808ull : 9223372036854775807ull;
  if (magnitude > limit) return std::nullopt;
  if (!negative) return static_cast<long long>(magnitude);
  return magnitude == limit ? std::numeric_limits<long long>::min() : -static_cast<long long>(magnitude);
}

std::optional<std::uint64_t> parse_byte_size(const std::string& text) {
  std::size_t digits_end = 0;
  while (digits_end < text.size() && std::isdigit(static_cast<unsigned char>(text[digits_end])) != 0) ++digits_end;
  const std::string digits = text.substr(0, digits_end);
  const std::string suffix = text.substr(digits_end);
  if (digits.empty()) return std::nullopt;
  static const char* const kUnits[][3] = {{"K", "KB", "KiB"}, {"M", "MB", "MiB"}, {"G", "GB", "GiB"},
                                          {"T", "TB", "TiB"}};
  int shift = 0;
  if (!suffix.empty()) {
    for (int unit = 0; unit < 4 && shift == 0; ++unit) {
      for (const char* spelling : kUnits[unit]) {
        if (same_word(suffix, spelling)) shift = 10 * (unit + 1);
      }
    }
    if (shift == 0) return std::nullopt;
  }
  errno = 0;
  const unsigned long long count = std::strtoull(digits.c_str(), nullptr, 10);
  if (errno == ERANGE || (shift != 0 && count > (~0ull >> shift))) return std::nullopt;
  return static_cast<std::uint64_t>(count) << shift;
}

std::optional<double> parse_seconds(const std::string& text) {
  // strtod would also take spaces, signs, "inf" and "nan": none is a duration.
  if (text.empty() || (std::isdigit(static_cast<unsigned char>(text[0])) == 0 && text[0] != '.')) {
    return std::nullopt;
  }
  char* end = nullptr;
  const double seconds = std::strtod(text.c_str(), &end);  // too large: infinity
  if (*end != '\0') return std::nullopt;
  return seconds;
}

double seconds_to_ms(double seconds) { return std::round(seconds * 1000); }

std::optional<unsigned> parse_file_mode(const std::string& text) {
  if (text.size() > 5 || !all_digits_in_base(text, 8)) return std::nullopt;
  const unsigned long mode = std::strtoul(text.c_str(), nullptr, 8);
  if (mode > kMaxFileMode) return std::nullopt;
  return static_cast<unsigned>(mode);
}

CLI::Validator integer_in(long long min, long long max, std::string allowed) {
  return validator([min, max, allowed](std::string& value) -> std::string {
    const std::optional<long long> number = parse_integer(value);
    if (!number && is_decimal(value)) return "out of range; allowed: " + allowed;
    if (!number) return "not an integer; allowed: " + allowed;
    if (*number < min || *number > max) return "out of range; allowed: " + allowed;
    value = std::to_string(*number);
    return {};
  });
}

std::vector<std::string> split_subprotocols(const std::string& list) {
  std::vector<std::string> names;
  std::size_t start = 0;
  while (true) {
    const std::size_t comma = list.find(',', start);
    names.push_back(list.substr(start, comma == std::string::npos ? std::string::npos : comma - start));
    if (comma == std::string::npos) return names;
    start = comma + 1;
  }
}

CLI::Validator subprotocol_list() {
  return validator([](std::string& value) -> std::string {
    const std::string allowed = "; allowed: protocol names (letters, digits and !#$%&'*+-.^_`|~), comma-separated";
    for (const std::string& name : split_subprotocols(value)) {
      if (name.empty()) return "an empty protocol name" + allowed;
      if (!ws::is_subprotocol_token(name)) return "'" + name + "' is not a protocol name" + allowed;
    }
    return {};
  });
}

CLI::Validator one_of(std::vector<std::string> words) {
  std::string allowed;
  for (const std::string& word : words) allowed += (allowed.empty() ? "" : ", ") + word;
  return validator([words = std::move(words), allowed](std::string& value) -> std::string {
    for (const std::string& word : words) {
      if (value == word) return {};
    }
    return "not one of the choices; allowed: " + allowed;
  });
}

CLI::Validator byte_size_up_to(std::uint64_t max, std::string allowed) {
  return byte_size_in(0, max, std::move(allowed));
}

CLI::Validator byte_size_in(std::uint64_t min, std::uint64_t max, std::string allowed) {
  return validator([min, max, allowed](std::string& value) -> std::string {
    const std::optional<std::uint64_t> bytes = parse_byte_size(value);
    if (!bytes && is_size_overflow(value)) return "out of range; allowed: " + allowed;
    if (!bytes) return "not a byte count; allowed: " + allowed;
    if (*bytes < min || *bytes > max) return "out of range; allowed: " + allowed;
    value = std::to_string(*bytes);
    return {};
  });
}

CLI::Validator seconds_up_to(unsigned max_ms, bool zero_allowed, std::string allowed) {
  return validator([max_ms, zero_allowed, allowed](std::string& value) -> std::string {
    const std::optional<double> seconds = parse_seconds(value);
    if (!seconds && value.rfind('-', 0) == 0 && parse_seconds(value.substr(1))) {
      return "out of range; allowed: " + allowed;
    }
    if (!seconds) return "not a number of seconds; allowed: " + allowed;
    const double ms = seconds_to_ms(*seconds);
    // A positive value that rounds to 0 ms would silently mean "off" or "default".
    const bool too_small = *seconds == 0 ? !zero_allowed : ms < 1;
    if (too_small || ms > static_cast<double>(max_ms)) return "out of range; allowed: " + allowed;
    return {};
  });
}

CLI::Validator file_mode() {
  return validator([](std::string& value) -> std::string {
    if (!parse_file_mode(value)) return "not a file mode; allowed: octal, 0 to 7777, e.g. 0660";
    return {};
  });
}

CLI::Validator header_line() {
  return validator([](std::string& value) -> std::string {
    const std::size_t colon = value.find(':');
    const std::string allowed = "; allowed: \"Name: value\", a name of letters, digits and !#$%&'*+-.^_`|~";
    if (colon == std::string::npos) return "no ':' after the header name" + allowed;
    if (colon == 0) return "empty header name" + allowed;
    for (std::size_t i = 0; i < colon; ++i) {
      if (!is_token_char(value[i])) return "header name has a character not allowed" + allowed;
    }
    for (std::size_t i = colon + 1; i < value.size(); ++i) {
      const auto c = static_cast<unsigned char>(value[i]);
      if ((c < 0x20 && c != '\t') || c == 0x7f) {
        return "header value has a control character (line breaks would split the response)";
      }
    }
    return {};
  });
}

CLI::Validator listen_address() {
  return validator([](std::string& value) -> std::string {
    const std::string allowed =
        "; allowed: an IPv4 address, an IPv6 address in brackets ([::1]), a host name, unix:PATH, or empty "
        "for all interfaces";
    if (value.empty()) return {};
    if (value.rfind("unix:", 0) == 0) {
      const std::string path = value.substr(5);
      if (path.empty()) return "no path after unix:" + allowed;
      return unix_path_problem(path);
    }
    if (value.front() == '[') {
      if (value.size() < 2 || value.back() != ']' || !is_ipv6_literal(value.substr(1, value.size() - 2))) {
        return "not an IPv6 address in brackets" + allowed;
      }
      return {};
    }
    if (is_ipv6_literal(value)) return "an IPv6 address needs brackets, e.g. [" + value + "]";
    if (value.find(':') != std::string::npos) return "the port goes in --port, not in the address" + allowed;
    if (!is_host_name(value)) return "not an address or host name" + allowed;
    return {};
  });
}

namespace {

// HOST:PORT as --metrics and --room-broker take it: `value` rewritten with
// the port in plain decimal, or the problem (`no_host` when HOST is empty,
// each message followed by `allowed`).
std::string check_host_port(std::string& value, const std::string& no_host, const std::string& allowed) {
  const std::size_t colon = value.rfind(':');
  if (colon == std::string::npos) return "no :PORT" + allowed;
  const std::string host = value.substr(0, colon);
  const std::optional<long long> port = parse_integer(value.substr(colon + 1));
  if (!port || *port < 1 || *port > 65535) return "the port is not 1 to 65535" + allowed;
  if (host.empty()) return no_host + allowed;
  if (host.front() == '[') {
    if (host.size() < 2 || host.back() != ']' || !is_ipv6_literal(host.substr(1, host.size() - 2))) {
      return "not an IPv6 address in brackets" + allowed;
    }
  } else if (is_ipv6_literal(host)) {
    return "an IPv6 address needs brackets, e.g. [" + host + "]:" + std::to_string(*port);
  } else if (!is_host_name(host)) {
    return "not an address or host name" + allowed;
  }
  value = host + ":" + std::to_string(*port);
  return {};
}

}  // namespace

CLI::Validator metrics_address() {
  return validator([](std::string& value) -> std::string {
    const std::string allowed =
        "; allowed: HOST:PORT with an IPv4 address, an IPv6 address in brackets ([::1]:9101) or a host "
        "name, and a port from 1 to 65535";
    return check_host_port(value, "no host (the metrics have no authentication: name the interface)", allowed);
  });
}

CLI::Validator room_broker_url() {
  return validator([](std::string& value) -> std::string {
    const std::string allowed =
        "; allowed: redis://HOST:PORT or redis://HOST:PORT/DB, HOST an IPv4 address, an IPv6 address in "
        "brackets or a host name, PORT 1 to 65535, DB 0 to 2147483647";
    const std::string scheme = "redis://";
    if (value.compare(0, scheme.size(), scheme) != 0) return "not a redis:// URL" + allowed;
    std::string host_port = value.substr(scheme.size());
    long long db = 0;
    const std::size_t slash = host_port.find('/');
    if (slash != std::string::npos) {
      const std::string db_text = host_port.substr(slash + 1);
      const bool digits = !db_text.empty() && db_text.find_first_not_of("0123456789") == std::string::npos;
      const std::optional<long long> number = digits ? parse_integer(db_text) : std::nullopt;
      if (!number || *number > 2147483647) return "the database is not 0 to 2147483647" + allowed;
      db = *number;
      host_port.resize(slash);
    }
    std::string problem = check_host_port(host_port, "no host", allowed);
    if (!problem.empty()) return problem;
    value = scheme + host_port + "/" + std::to_string(db);
    return {};
  });
}

void split_room_broker(const std::string& url, std::string& host, int& port, int& db) {
  // The form room_broker_url() wrote: redis://HOST:PORT/DB.
  const std::string rest = url.substr(std::string("redis://").size());
  const std::size_t slash = rest.rfind('/');
  const std::size_t colon = rest.rfind(':', slash);
  host = rest.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  port = std::stoi(rest.substr(colon + 1, slash - colon - 1));
  db = std::stoi(rest.substr(slash + 1));
}

CLI::Validator connection_rate(long long max) {
  return validator([max](std::string& value) -> std::string {
    const std::string allowed = "; allowed: N/s (or N), new connections per second per client, 0 (off) to " +
                                std::to_string(max);
    std::string number = value;
    if (number.size() > 2 && number.compare(number.size() - 2, 2, "/s") == 0) number.resize(number.size() - 2);
    const std::optional<long long> rate = parse_integer(number);
    if (!rate && is_decimal(number)) return "out of range" + allowed;
    if (!rate) return "not a rate" + allowed;
    if (*rate < 0 || *rate > max) return "out of range" + allowed;
    value = std::to_string(*rate);
    return {};
  });
}

CLI::Validator unix_socket_path() {
  return validator([](std::string& value) -> std::string { return unix_path_problem(value); });
}

CLI::Validator proxy_ranges() {
  return validator([](std::string& value) -> std::string {
    bridge::TrustedProxies scratch;
    std::string why;
    const std::string allowed = "; allowed: addresses and CIDR ranges, comma-separated";
    if (!scratch.add(value, why)) return why + allowed;
    if (scratch.empty()) return "no address or range" + allowed;
    return {};
  });
}

}  // namespace wsbridge::cli
