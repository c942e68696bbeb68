// Fuzzes the command-line parser (src/cli). The input is argv: words
// separated by NUL bytes (up to 64 of them). Invariants:
//  - parse_args returns, never through its internal-error path;
//  - an outcome that does not run has exit status 0 with something on
//    stdout, or 1 or 2 with something on stderr; one that runs prints nothing;
//  - no value outside its documented range or form ever reaches a Config
//    that runs: ports, delays, sizes, thread counts, file modes, socket
//    paths, header lines, addresses and proxy ranges.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli/value_checks.h"
#include "fuzz_input.h"
#include "wsbridge/bridge/client_address.h"
#include "wsbridge/cli/config.h"
#include "wsbridge/cli/option_limits.h"

namespace cli = wsbridge::cli;

namespace {

constexpr std::size_t kMaxWords = 64;

std::vector<std::string> split_words(const std::string& input) {
  std::vector<std::string> words{"wsbridge"};
  std::size_t start = 0;
  while (words.size() <= kMaxWords) {
    const std::size_t end = input.find('\0', start);
    words.push_back(input.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return words;
}

// The validator's verdict on a value already stored: it must accept it.
bool passes(CLI::Validator check, std::string value) { return check(value).empty(); }

void check_header_lines(const std::vector<std::string>& lines) {
  for (const std::string& line : lines) {
    const std::size_t colon = line.find(':');
    FUZZ_CHECK(colon != std::string::npos && colon != 0);
    FUZZ_CHECK(line.find_first_of("\r\n", colon) == std::string::npos);
    FUZZ_CHECK(passes(cli::header_line(), line));
  }
}

void check_config_in_range(const cli::Config& config) {
  FUZZ_CHECK(config.port >= 0 && config.port <= cli::kMaxPort);
  FUZZ_CHECK(config.redirport >= 0 && config.redirport <= cli::kMaxPort);
  FUZZ_CHECK(config.closems <= cli::kMaxDelayMs);
  FUZZ_CHECK(config.pingms <= cli::kMaxDelayMs);
  FUZZ_CHECK(config.shutdown_timeout_ms <= cli::kMaxDelayMs);
  FUZZ_CHECK(config.workers <= cli::kMaxWorkers);
  FUZZ_CHECK(config.max_message <= cli::kMaxMessageLimit);
  FUZZ_CHECK(config.unixsocket_mode <= cli::kMaxFileMode);
  FUZZ_CHECK(config.unixsocket.size() <= cli::kMaxUnixSocketPath);
  FUZZ_CHECK(config.unixsocket.find('\0') == std::string::npos);
  check_header_lines(config.headers);
  check_header_lines(config.headers_ws);
  check_header_lines(config.headers_http);
  for (const std::string& address : config.addresses) {
    FUZZ_CHECK(address.rfind("unix:", 0) != 0);  // moved to config.unixsocket
    FUZZ_CHECK(passes(cli::listen_address(), address));
  }
  for (const std::string& list : config.trusted_proxies) {
    wsbridge::bridge::TrustedProxies proxies;
    std::string why;
    FUZZ_CHECK(proxies.add(list, why));
  }
  FUZZ_CHECK(!config.command.empty() || !config.dir.empty() || !config.staticdir.empty() ||
             !config.cgidir.empty());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  wsbridge::fuzz::FuzzInput in(data, size);
  const std::vector<std::string> words = split_words(in.rest());
  std::vector<const char*> argv;
  for (const std::string& word : words) argv.push_back(word.c_str());
  argv.push_back(nullptr);

  const cli::ParseOutcome outcome = cli::parse_args(static_cast<int>(words.size()), argv.data());
  // At the start only: a refused value is quoted later in its message.
  FUZZ_CHECK(outcome.stderr_text.rfind("internal error while parsing", 0) != 0);
  if (outcome.run) {
    FUZZ_CHECK(outcome.exit_code == 0 && outcome.stdout_text.empty() && outcome.stderr_text.empty());
    check_config_in_range(outcome.config);
  } else if (outcome.exit_code == 0) {
    FUZZ_CHECK(!outcome.stdout_text.empty() && outcome.stderr_text.empty());
  } else {
    FUZZ_CHECK(outcome.exit_code == 1 || outcome.exit_code == 2);
    FUZZ_CHECK(!outcome.stderr_text.empty());
  }
  return 0;
}
