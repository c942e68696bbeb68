// Command-line parsing: a websocketd-compatible pre-pass (pre_pass.h) in
// front of CLI11, which owns the option definitions (option_table.h), the
// help text and the checked conversion of each value (value_checks.h); then
// the checks that concern several options at once, in websocketd's order.
//
// Exit statuses: a syntax error, an unknown option, or a value of the wrong
// form or outside its range → 2, naming the option, the value and what is
// allowed, so no such value ever reaches the Config; semantic errors (bad
// --loglevel or --logformat, no COMMAND, options that exclude each other) →
// 1, as websocketd. Files are not opened here: see readable_files.h.
#include "wsbridge/cli/config.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "cli/log_level_names.h"
#include "cli/option_extras.h"
#include "cli/option_table.h"
#include "cli/pre_pass.h"
#include "cli/program_text.h"
#include "cli/value_checks.h"

namespace wsbridge::cli {
namespace {

// --framing=length: the largest length its 4-byte prefix can give.
constexpr std::uint64_t kMaxLengthFramed = 0xFFFFFFFFu;

ParseOutcome fail(int exit_code, std::string message, bool with_usage) {
  ParseOutcome outcome;
  outcome.exit_code = exit_code;
  outcome.stderr_text = std::move(message) + "\n";
  if (with_usage) outcome.stderr_text += short_usage();
  return outcome;
}

// CLI11 words a refused value as "--name: why"; our message names the
// option as the user spelled it, so only the why is kept.
std::string reason_of(const CLI::ParseError& error) {
  const std::string text = error.what();
  const std::size_t colon = text.find(": ");
  if (text.rfind("--", 0) == 0 && colon != std::string::npos) return text.substr(colon + 2);
  return text;
}

void run_cli11(CLI::App& app, const std::vector<PrePass::Option>& options) {
  std::vector<std::string> args;
  for (const PrePass::Option& option : options) option.append_to(args);
  std::reverse(args.begin(), args.end());  // CLI11 consumes from the back
  app.parse(args);
}

// Runs CLI11 over the normalized options. On a refused value it finds the
// first offending occurrence (Go reports the first one, in order) by
// converting the occurrences one at a time into a scratch Config.
std::optional<ParseOutcome> apply_options(CLI::App& app, const std::vector<PrePass::Option>& options) {
  try {
    run_cli11(app, options);
    return std::nullopt;
  } catch (const CLI::ParseError& whole) {
    for (const PrePass::Option& option : options) {
      Config scratch;
      OptionExtras scratch_extras;
      auto probe = build_app(scratch, scratch_extras);
      try {
        run_cli11(*probe, {option});
      } catch (const CLI::ParseError& single) {
        return fail(2, "invalid value \"" + option.value + "\" for flag -" + option.name + ": " + reason_of(single),
                    true);
      }
    }
    return fail(2, std::string("invalid command line: ") + whole.what(), true);
  }
}

// The word-valued options, checked as websocketd checks --loglevel (exit 1,
// its wording), and the values kept as text until now. Their form and range
// were checked while parsing, so the conversions here cannot fail.
std::optional<ParseOutcome> convert_extras(const OptionExtras& extras, Config& config) {
  if (!parse_log_level(extras.loglevel, config.loglevel)) {
    return fail(1, "Incorrect loglevel flag '" + extras.loglevel + "'. Use --help to see allowed values.", true);
  }
  if (extras.logformat != "text" && extras.logformat != "json") {
    return fail(1, "Incorrect logformat flag '" + extras.logformat + "'. Use text or json.", true);
  }
  config.log_json = extras.logformat == "json";
  config.exit_status_close_codes = extras.exit_close_codes == "4000";
  config.framing = extras.framing == "nul"      ? Framing::Nul
                   : extras.framing == "length" ? Framing::Length
                                                : Framing::Line;
  for (const std::string& list : extras.subprotocols) {
    for (std::string& name : split_subprotocols(list)) config.subprotocols.push_back(std::move(name));
  }
  config.unixsocket_mode = parse_file_mode(extras.unixsocket_mode).value_or(config.unixsocket_mode);
  if (!extras.ping_interval.empty()) {
    config.pingms = static_cast<unsigned>(seconds_to_ms(parse_seconds(extras.ping_interval).value_or(0)));
  }
  if (!extras.auth_timeout.empty()) {
    config.auth_timeout_ms = static_cast<unsigned>(seconds_to_ms(parse_seconds(extras.auth_timeout).value_or(0)));
  }
  if (!extras.room_broker.empty()) {
    split_room_broker(extras.room_broker, config.room_broker_host, config.room_broker_port, config.room_broker_db);
  }
  if (!extras.room_linger.empty()) {
    config.room_linger_ms = static_cast<unsigned>(seconds_to_ms(parse_seconds(extras.room_linger).value_or(0)));
  }
  if (extras.slow_client == "close") config.slow_client = SlowClientPolicy::Close;
  else if (extras.slow_client == "drop") config.slow_client = SlowClientPolicy::Drop;
  else if (extras.slow_client == "wait") config.slow_client = SlowClientPolicy::Wait;
  else return fail(2, "invalid value \"" + extras.slow_client + "\" for flag -slow-client: use close, drop or wait", true);
  if (!extras.shutdown_timeout.empty()) {
    config.shutdown_timeout_ms =
        static_cast<unsigned>(seconds_to_ms(parse_seconds(extras.shutdown_timeout).value_or(0)));
  }
  return std::nullopt;
}

// --address=unix:PATH is the same as --unixsocket=PATH.
void move_unix_addresses(Config& config) {
  for (auto it = config.addresses.begin(); it != config.addresses.end();) {
    if (it->rfind("unix:", 0) == 0) {
      config.unixsocket = it->substr(5);
      it = config.addresses.erase(it);
    } else {
      ++it;
    }
  }
}

// Options that exclude or need each other, and COMMAND, in websocketd's
// order and words (exit 1).
std::optional<ParseOutcome> check_combinations(const Config& config, const PrePass& pass) {
  if (config.passstderr && config.binary) return fail(1, "--passstderr cannot be used with --binary.", false);
  // stderr's lines are JSON text messages: they cannot share a NUL- or
  // length-framed stream's boundaries.
  if (config.passstderr && config.framing != Framing::Line) {
    return fail(1, "--passstderr cannot be used with --framing=nul or --framing=length.", false);
  }
  // Every message's 4-byte prefix must be able to hold its length.
  if (config.framing == Framing::Length && (config.max_message == 0 || config.max_message > kMaxLengthFramed)) {
    return fail(1, "--framing=length needs --maxmessage of at most 4294967295 bytes (4G - 1), not 0 (unlimited).",
                false);
  }
  if (config.ssl && (config.sslcert.empty() || config.sslkey.empty())) {
    return fail(1, "Please specify both --sslcert and --sslkey when requesting --ssl.", false);
  }
  if (!config.ssl && (!config.sslcert.empty() || !config.sslkey.empty() || !config.sslca.empty())) {
    return fail(1, "You should not be using --ssl* flags when there is no --ssl option.", false);
  }
  if (!pass.has_command && config.dir.empty() && config.staticdir.empty() && config.cgidir.empty()) {
    return fail(1, "Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.", true);
  }
  if (pass.has_command && !config.dir.empty()) {
    return fail(1, "Ambiguous. Provided COMMAND and --dir argument. Please only specify just one.", false);
  }
  if (pass.has_command && pass.command.empty()) return fail(1, "COMMAND must not be an empty string.", false);
  return std::nullopt;
}

// Rooms live on one event loop (a room's clients and its program share
// it), and the room options mean nothing without rooms (exit 2: values the
// server cannot run with).
std::optional<ParseOutcome> check_room_options(Config& config, const std::vector<PrePass::Option>& options) {
  if (config.broadcast) {
    if (config.workers > 1) {
      return fail(2, "--broadcast needs one event loop (a room's clients share it): use --workers=1 or leave "
                     "--workers out", false);
    }
    config.workers = 1;
    if (config.room_tagged && !config.room_broker_host.empty()) {
      return fail(2, "--room-tagged cannot be used with --room-broker: a client's id does not say which "
                     "instance holds it", false);
    }
    return std::nullopt;
  }
  for (const PrePass::Option& option : options) {
    if (option.name.rfind("room-", 0) == 0 || option.name == "slow-client") {
      return fail(2, "-" + option.name + " needs --broadcast", false);
    }
  }
  return std::nullopt;
}

ParseOutcome print_only(std::string text) {
  ParseOutcome outcome;
  outcome.stdout_text = std::move(text);
  return outcome;
}

// The steps, in websocketd's order: syntax, values, --help, log level,
// --version/--license, then the options that go together, then COMMAND.
ParseOutcome parse_checked(int argc, const char* const* argv) {
  ParseOutcome outcome;
  OptionExtras extras;
  auto app = build_app(outcome.config, extras);
  PrePass pass = read_flag_syntax(*app, argc, argv);
  if (!pass.error.empty()) return fail(2, pass.error, true);
  if (auto refused = apply_options(*app, pass.options)) return *refused;
  if (pass.help) return print_only(app->help());

  Config& config = outcome.config;
  if (auto refused = convert_extras(extras, config)) return *refused;
  move_unix_addresses(config);
  if (extras.version) return print_only(version_line());
  if (extras.license) return print_only(license_text());
  if (argc <= 1) return fail(1, "Command line arguments are missing.", true);
  if (auto refused = check_combinations(config, pass)) return *refused;
  if (auto refused = check_room_options(config, pass.options)) return *refused;
  config.command = std::move(pass.command);
  config.command_args = std::move(pass.command_args);
  outcome.run = true;
  return outcome;
}

constexpr LogLevel kLogLevels[] = {LogLevel::Debug, LogLevel::Trace, LogLevel::Access, LogLevel::Info,
                                   LogLevel::Error, LogLevel::Fatal, LogLevel::None};

}  // namespace

const char* log_level_name(LogLevel level) {
  switch (level) {
    case LogLevel::Debug: return "debug";
    case LogLevel::Trace: return "trace";
    case LogLevel::Access: return "access";
    case LogLevel::Info: return "info";
    case LogLevel::Error: return "error";
    case LogLevel::Fatal: return "fatal";
    case LogLevel::None: return "none";
  }
  return "access";
}

bool parse_log_level(const std::string& name, LogLevel& level) {
  for (LogLevel candidate : kLogLevels) {
    if (name == log_level_name(candidate)) {
      level = candidate;
      return true;
    }
  }
  return false;
}

ParseOutcome parse_args(int argc, const char* const* argv) {
  // Nothing may escape: main() turns the outcome into output and an exit
  // code, and a configuration error must never abort the process.
  try {
    if (argv == nullptr) argc = 0;
    return parse_checked(argc, argv);
  } catch (const std::exception& e) {
    return fail(1, std::string("internal error while parsing the command line: ") + e.what(), false);
  } catch (...) {
    return fail(1, "internal error while parsing the command line", false);
  }
}

}  // namespace wsbridge::cli
