// Command-line parsing: a websocketd-compatible pre-pass in front of CLI11.
//
// websocketd uses Go's `flag` package, whose spelling rules CLI11 cannot
// express: a single dash introduces long names ("-port=8080"), parsing stops
// at the first word that is not an option (everything after it belongs to
// COMMAND, even "--devconsole"), and a boolean never consumes the next word
// ("--binary true" runs the program `true`). So we walk argv ourselves, split
// off COMMAND, and rewrite every option into the one unambiguous form CLI11
// accepts, "--name=value" (or "--name" for a bare boolean). CLI11 still owns
// the option definitions, the help text and the value conversion; the
// pre-pass asks the CLI11 App which names exist and which of them take a
// value, so there is only one list of options.
#include "wsbridge/cli/config.h"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdlib>
#include <exception>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#ifndef WSBRIDGE_VERSION
#define WSBRIDGE_VERSION "unknown"
#endif

namespace wsbridge::cli {
namespace {

constexpr const char* kProgramName = "wsbridge";
constexpr std::size_t kColumnWidth = 30;

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

// Go's strconv.ParseBool, which is what `-flag=value` uses for booleans.
bool parse_go_bool(const std::string& text, bool& value) {
  static const char* const kTrue[] = {"1", "t", "T", "true", "TRUE", "True"};
  static const char* const kFalse[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (const char* word : kTrue) {
    if (text == word) {
      value = true;
      return true;
    }
  }
  for (const char* word : kFalse) {
    if (text == word) {
      value = false;
      return true;
    }
  }
  return false;
}

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

// strtoll/strtoull, which CLI11 converts integers with, skip leading
// whitespace and strtoull wraps "-1" around to a huge number. Go's parser
// accepts neither, so these checks run before CLI11's conversion.
CLI::Validator go_signed_integer() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        if (input.empty() || std::isspace(static_cast<unsigned char>(input.front())) != 0) {
          return "not an integer";
        }
        return {};
      },
      "", "go signed integer");
}

CLI::Validator go_unsigned_integer() {
  return CLI::Validator(
      [](std::string& input) -> std::string {
        if (input.empty() || input.front() == '-' || input.front() == '+' ||
            std::isspace(static_cast<unsigned char>(input.front())) != 0) {
          return "not an unsigned integer";
        }
        return {};
      },
      "", "go unsigned integer");
}

// Lays the help out as "  --name=VALUE   description (default: x)", the
// spelling users of websocketd know, rather than CLI11's "--name TEXT=x".
class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() { column_width(kColumnWidth); }

  std::string make_usage(const CLI::App*, std::string) const override {
    std::ostringstream out;
    out << "\nUsage:\n"
        << "  " << kProgramName << " [options] COMMAND [ARGS...]\n"
        << "  " << kProgramName << " --help | --version | --license\n\n"
        << "Options may be written --name=value, --name value, -name=value or\n"
        << "-name value. Boolean options are given as --name or\n"
        << "--name=true|false (also 1|0|t|f); \"--binary true\" would run the\n"
        << "program \"true\". Option parsing stops at the first argument that is\n"
        << "not an option, or after \"--\": that argument is COMMAND and every\n"
        << "later argument is passed to it unchanged, even if it starts with '-'.\n"
        << "Scalar options given twice keep the last value; repeatable ones add up.\n";
    return out.str();
  }

  std::string make_option_name(const CLI::Option* opt, bool) const override {
    // "--maxmessage, --maxframesize" and "-h, --help" read better with a space.
    std::string names;
    for (const std::string& name : opt->get_snames()) {
      names += (names.empty() ? "-" : ", -") + name;
    }
    for (const std::string& name : opt->get_lnames()) {
      names += (names.empty() ? "--" : ", --") + name;
    }
    return names;
  }

  std::string make_option_opts(const CLI::Option* opt) const override {
    if (opt->get_expected_max() == 0) return {};  // a boolean flag
    std::string text = "=" + opt->get_type_name();
    if (opt->get_expected_max() > 1) text += " ...";
    return text;
  }

  std::string make_option_desc(const CLI::Option* opt) const override {
    std::string text = opt->get_description();
    const std::string name = opt->get_name();
    if (name == "--help" || name == "--version" || name == "--license") return text;
    std::string value = opt->get_default_str();
    if (value.empty() || value == "[]") value = "none";
    const std::string note = "(default: " + value + ")";
    // Keep the default on the last line when it fits in 80 columns.
    const std::size_t last_line = text.size() - (text.rfind('\n') + 1);
    text += (last_line + note.size() + 1 + kColumnWidth <= 80) ? " " : "\n";
    return text + note;
  }
};

// Values that CLI11 writes to but that are not Config fields themselves.
struct Extras {
  std::string loglevel;
  std::string ping_interval;
  std::string shutdown_timeout;
  std::string unixsocket_mode = "0666";
  std::string logformat = "text";
  bool version = false;
  bool license = false;
};

// Builds the one definition of every option. Defaults shown in --help are
// read from the Config the options are bound to, so they cannot drift.
std::unique_ptr<CLI::App> build_app(Config& config, Extras& extras) {
  auto app = std::make_unique<CLI::App>(
      std::string(kProgramName) + " " + WSBRIDGE_VERSION +
          ": serve a program that reads stdin and writes stdout\n"
          "as a WebSocket endpoint. Each connection gets its own process;\n"
          "each line it prints becomes a message, and each message received\nbecomes a line on its stdin. "
          "Command lines written for websocketd work unchanged.",
      kProgramName);
  app->formatter(std::make_shared<HelpFormatter>());
  app->set_help_flag("-h,--help", "Print this help and exit.");
  app->option_defaults()->always_capture_default()->multi_option_policy(
      CLI::MultiOptionPolicy::TakeLast);
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

  const auto flag = [&app](const std::string& name, bool& target, std::string description) {
    CLI::Option* opt = app->add_flag(name, target, std::move(description));
    opt->default_str(target ? "true" : "false");
    return opt;
  };
  const auto repeatable = [&app](const std::string& name, std::vector<std::string>& target,
                                 std::string description) {
    return app->add_option(name, target, std::move(description))
        ->type_name("HEADER")
        ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll)
        // Otherwise CLI11 reads "[::1]" as a bracketed list and yields "::1".
        ->allow_extra_args(false);
  };

  app->add_option("--port", config.port, "TCP port; 0 means 80 (443 with --ssl).")
      ->type_name("PORT")
      ->check(go_signed_integer());
  repeatable("--address", config.addresses,
             "Address to listen on; repeatable. Brackets\n"
             "for IPv6: [::1]. None means all interfaces.")
      ->type_name("ADDRESS");
  flag("--binary", config.binary,
       "Relay stdout in raw chunks as binary messages\n"
       "instead of one text message per line.");
  app->add_option("--passenv", config.passenv,
                  "Environment variables passed on to COMMAND;\n"
                  "all others are withheld.")
      ->type_name("VAR[,VAR...]");
  app->add_option("--maxforks", config.maxforks,
                  "Most processes at once; later upgrades get\n"
                  "429. 0 or less means unlimited.")
      ->type_name("N")
      ->check(go_signed_integer());
  app->add_option("--closems", config.closems,
                  "Milliseconds added to each wait of the stop\n"
                  "sequence (EOF, SIGINT, SIGTERM, SIGKILL).")
      ->type_name("MS")
      ->check(go_unsigned_integer());
  app->add_option("--maxmessage,--maxframesize", config.max_message,
                  "Largest message accepted from a client;\n"
                  "suffix K, M or G = x1024. Larger messages\n"
                  "close the connection (1009). 0: unlimited.")
      ->check(go_unsigned_integer())
      ->transform(CLI::AsSizeValue(false).description(""))
      ->type_name("BYTES")
      ->default_str(format_size(config.max_message));
  app->add_option("--origin", config.origin,
                  "Allowed Origin values, comma-separated, each\n"
                  "[scheme://]host[:port]; others get 403.\n"
                  "None means any origin is accepted.")
      ->type_name("LIST");
  flag("--sameorigin", config.sameorigin,
       "Reject (403) upgrades whose Origin host and\n"
       "port differ from the Host header.");
  app->add_option("--user", config.user,
                  "After binding, run as this user (name or\n"
                  "uid), children too. Needs root.")
      ->type_name("USER");
  app->add_option("--group", config.group,
                  "After binding, run as this group; default:\n"
                  "the --user's primary group. Needs root.")
      ->type_name("GROUP");
  repeatable("--header", config.headers,
             "Header \"Name: value\" added to WebSocket\n"
             "upgrade responses; repeatable.");
  repeatable("--header-ws", config.headers_ws,
             "Header for WebSocket upgrade responses\n"
             "only; repeatable.");
  repeatable("--header-http", config.headers_http,
             "Header for plain HTTP responses only;\n"
             "repeatable.");
  repeatable("--trusted-proxy", config.trusted_proxies,
             "Address or CIDR range of a proxy whose\n"
             "X-Forwarded-For/X-Real-IP set REMOTE_ADDR;\n"
             "comma-separated, repeatable.");
  flag("--proxy-protocol", config.proxy_protocol,
       "Every connection starts with a PROXY v1/v2\n"
       "header (HAProxy send-proxy); its source\n"
       "address becomes REMOTE_ADDR.");
  extras.loglevel = log_level_name(config.loglevel);
  app->add_option("--loglevel", extras.loglevel,
                  "Least severe messages logged: debug, trace,\n"
                  "access, info, error, fatal, or none.")
      ->type_name("LEVEL");
  app->add_option("--logformat", extras.logformat,
                  "Log line layout: text (websocketd's) or\n"
                  "json (one object per line, for log shippers).")
      ->type_name("FORMAT");
  flag("--version", extras.version, "Print the version and exit.");
  flag("--license", extras.license, "Print the license and exit.");

  // Serving files, TLS, listeners and behaviour from websocketd's main branch.
  app->add_option("--dir", config.dir,
                  "Instead of COMMAND: each executable under\n"
                  "DIR is an endpoint at its path, e.g.\n"
                  "/chat.sh/room runs DIR/chat.sh with\n"
                  "PATH_INFO=/room.")
      ->type_name("DIR");
  app->add_option("--staticdir", config.staticdir,
                  "Serve the files in DIR to plain HTTP GET\n"
                  "and HEAD (index.html for folders; no\n"
                  "dotfiles or listings).")
      ->type_name("DIR");
  app->add_option("--cgidir", config.cgidir,
                  "Run CGI/1.1 scripts in DIR for plain HTTP\n"
                  "requests to their path.")
      ->type_name("DIR");
  flag("--devconsole", config.devconsole,
       "Answer plain HTTP requests with a page for\n"
       "trying the endpoint in a browser. Not with\n"
       "--staticdir or --cgidir.");
  flag("--ssl", config.ssl, "Listen with TLS 1.2/1.3; needs --sslcert\nand --sslkey. SIGHUP reloads both.");
  app->add_option("--sslcert", config.sslcert, "TLS certificate chain, PEM.")
      ->type_name("FILE");
  app->add_option("--sslkey", config.sslkey, "TLS private key, PEM.")
      ->type_name("FILE");
  app->add_option("--sslca", config.sslca,
                  "Require client certificates from this CA.")
      ->type_name("FILE");
  app->add_option("--redirport", config.redirport,
                  "Also listen on PORT with plain HTTP and\nredirect every request to the https URL.")
      ->type_name("PORT")
      ->check(go_signed_integer());
  flag("--reverselookup", config.reverselookup,
       "REMOTE_HOST from a reverse DNS lookup of\nREMOTE_ADDR (on threads of its own, one\nper address: a slow resolver delays only\nthe clients it is asked about, up to 64\naddresses at once).");
  app->add_option("--unixsocket", config.unixsocket,
                  "Also listen on a Unix socket at PATH (the\n"
                  "only listener without --port/--address).\n"
                  "--address=unix:PATH does the same.")
      ->type_name("PATH");
  app->add_option("--unixsocket-mode", extras.unixsocket_mode,
                  "File mode of the Unix socket, octal.")
      ->type_name("MODE");
  app->add_option("--pingms", config.pingms,
                  "Ping clients every MS ms and drop those that\n"
                  "send nothing for two intervals; 0 disables.")
      ->type_name("MS")
      ->check(go_unsigned_integer());
  app->add_option("--shutdown-timeout", extras.shutdown_timeout,
                  "Longest graceful stop on SIGTERM/SIGINT, in\n"
                  "seconds; then children are SIGKILLed. Default:\n"
                  "10 + 3 x closems/1000.")
      ->type_name("SECONDS");
  app->add_option("--ping-interval", extras.ping_interval,
                  "The same in seconds (e.g. 30 or 0.5).")
      ->type_name("SECONDS");
  flag("--passstderr", config.passstderr,
       "Send stdout and stderr lines as JSON\n"
       "{\"stream\":...,\"data\":...} text messages.");
  app->add_option("--workers", config.workers,
                  "Event loops, each on its own thread, all\n"
                  "serving every listener. 0: one per CPU core\n"
                  "(at most 64).")
      ->type_name("N")
      ->check(go_unsigned_integer())
      ->check(CLI::Range(0u, kMaxWorkers).description(""));
  return app;
}

std::string short_usage() {
  std::ostringstream out;
  out << "Usage: " << kProgramName << " [options] COMMAND [ARGS...]\n"
      << "Run '" << kProgramName << " --help' for the list of options.\n";
  return out.str();
}

ParseOutcome fail(int exit_code, std::string message, bool with_usage) {
  ParseOutcome outcome;
  outcome.exit_code = exit_code;
  outcome.stderr_text = std::move(message) + "\n";
  if (with_usage) outcome.stderr_text += short_usage();
  return outcome;
}

// One option occurrence, already rewritten for CLI11.
struct NormalizedOption {
  std::string name;  // without dashes, as the user spelled it
  bool is_flag = false;
  std::string value;  // for flags "true" or "false"

  // Flags go to CLI11 as "--name=true"; other options as the two words
  // "--name" "value", because CLI11 treats "--name=" (an empty value) as
  // "--name" and would then swallow the next word, and a separate word is
  // taken verbatim even when it starts with '-'.
  void append_to(std::vector<std::string>& args) const {
    if (is_flag) {
      args.push_back("--" + name + "=" + value);
    } else {
      args.push_back("--" + name);
      args.push_back(value);
    }
  }
};

// Result of the pre-pass: either an error to report, or the options for
// CLI11 plus COMMAND and its arguments.
struct PrePass {
  bool ok = true;
  ParseOutcome error;
  bool help = false;  // --help/-h seen; `options` holds only what preceded it
  std::vector<NormalizedOption> options;
  bool has_command = false;
  std::string command;
  std::vector<std::string> command_args;
};

std::string word_at(const char* const* argv, int index) {
  return argv[index] != nullptr ? argv[index] : "";
}

void take_command(PrePass& pass, int first, int argc, const char* const* argv) {
  if (first >= argc) return;
  pass.has_command = true;
  pass.command = word_at(argv, first);
  for (int i = first + 1; i < argc; ++i) pass.command_args.push_back(word_at(argv, i));
}

PrePass normalize(CLI::App& app, int argc, const char* const* argv) {
  PrePass pass;
  const auto reject = [&pass](int code, std::string message) {
    pass.ok = false;
    pass.error = fail(code, std::move(message), true);
    return pass;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = word_at(argv, i);
    if (arg == "--") {
      take_command(pass, i + 1, argc, argv);
      return pass;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      take_command(pass, i, argc, argv);
      return pass;
    }
    // Go allows one or two dashes; a third, or an empty name, is an error.
    const std::size_t dashes = arg[1] == '-' ? 2 : 1;
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return reject(2, "bad flag syntax: " + arg);
    }
    bool has_value = false;
    std::string value;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      has_value = true;
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "h" || name == "help") {
      pass.help = true;
      return pass;
    }
    const CLI::Option* opt = app.get_option_no_throw("--" + name);
    if (opt == nullptr) {
      return reject(2, "flag provided but not defined: -" + name);
    }
    NormalizedOption normalized;
    normalized.name = name;
    if (opt->get_expected_max() == 0) {  // boolean: never takes the next word
      if (has_value) {
        bool parsed = false;
        if (!parse_go_bool(value, parsed)) {
          return reject(2, "invalid boolean value \"" + value + "\" for -" + name +
                               ": expected true, false, 1, 0, t or f");
        }
        value = parsed ? "true" : "false";
      } else {
        value = "true";
      }
      normalized.is_flag = true;
    } else if (!has_value) {
      if (i + 1 >= argc) return reject(2, "flag needs an argument: -" + name);
      value = word_at(argv, ++i);
    }
    normalized.value = value;
    pass.options.push_back(std::move(normalized));
  }
  return pass;
}

// Runs CLI11 over the normalized options. On a conversion error it finds the
// first offending occurrence (Go reports the first one, in order) by
// converting the occurrences one at a time into a scratch Config.
bool apply_options(CLI::App& app, const std::vector<NormalizedOption>& options,
                   ParseOutcome& error) {
  const auto run = [](CLI::App& target, const std::vector<NormalizedOption>& list) {
    std::vector<std::string> args;
    for (const NormalizedOption& option : list) option.append_to(args);
    std::reverse(args.begin(), args.end());  // CLI11 consumes from the back
    target.parse(args);
  };
  try {
    run(app, options);
    return true;
  } catch (const CLI::ParseError& whole) {
    for (const NormalizedOption& option : options) {
      Config scratch;
      Extras scratch_extras;
      auto probe = build_app(scratch, scratch_extras);
      try {
        run(*probe, {option});
      } catch (const CLI::ParseError& single) {
        error = fail(2,
                     "invalid value \"" + option.value + "\" for flag -" + option.name + ": " +
                         single.what(),
                     true);
        return false;
      }
    }
    error = fail(2, std::string("invalid command line: ") + whole.what(), true);
    return false;
  }
}

std::string version_line() {
  return std::string(kProgramName) + " " + WSBRIDGE_VERSION +
         " (accepts websocketd 0.4.1 command lines)\n";
}

std::string license_text() {
  return version_line() +
         "\n"
         "Copyright (c) the wsbridge authors.\n"
         "\n"
         "You may use, copy, modify, merge, publish, distribute, sublicense and sell\n"
         "copies of this software and its documentation, free of charge, for any\n"
         "purpose, provided that this copyright notice and this permission notice\n"
         "are kept in every copy or substantial portion of the software.\n"
         "\n"
         "The software comes \"as is\", without any warranty, express or implied,\n"
         "including the warranties of merchantability, fitness for a particular\n"
         "purpose and non-infringement. In no event shall the authors or copyright\n"
         "holders be liable for any claim, damages or other liability, whether in\n"
         "contract, tort or otherwise, arising from, out of or in connection with\n"
         "the software or its use.\n";
}

ParseOutcome parse_checked(int argc, const char* const* argv) {
  ParseOutcome outcome;
  Extras extras;
  auto app = build_app(outcome.config, extras);

  PrePass pass = normalize(*app, argc, argv);
  if (!pass.ok) return pass.error;

  ParseOutcome error;
  if (!apply_options(*app, pass.options, error)) return error;

  if (pass.help) {
    outcome.exit_code = 0;
    outcome.stdout_text = app->help();
    return outcome;
  }

  // The checks below follow websocketd's order: log level first, then
  // --version/--license, then the TLS flags, then COMMAND.
  Config& config = outcome.config;
  if (!parse_log_level(extras.loglevel, config.loglevel)) {
    return fail(1,
                "Incorrect loglevel flag '" + extras.loglevel +
                    "'. Use --help to see allowed values.",
                true);
  }
  if (extras.logformat != "text" && extras.logformat != "json") {
    return fail(1, "Incorrect logformat flag '" + extras.logformat + "'. Use text or json.", true);
  }
  config.log_json = extras.logformat == "json";
  {
    char* end = nullptr;
    unsigned long mode = std::strtoul(extras.unixsocket_mode.c_str(), &end, 8);
    if (extras.unixsocket_mode.empty() || *end != '\0' || mode > 07777) {
      return fail(1, "Incorrect unixsocket-mode flag '" + extras.unixsocket_mode + "'. Use octal, e.g. 0660.",
                  true);
    }
    config.unixsocket_mode = static_cast<unsigned>(mode);
  }
  if (!extras.ping_interval.empty()) {
    char* end = nullptr;
    double seconds = std::strtod(extras.ping_interval.c_str(), &end);
    if (*end != '\0' || !(seconds >= 0) || seconds > 86400) {
      return fail(1, "Incorrect ping-interval flag '" + extras.ping_interval + "'. Use seconds, e.g. 30.", true);
    }
    config.pingms = static_cast<unsigned>(seconds * 1000 + 0.5);
  }
  if (!extras.shutdown_timeout.empty()) {
    char* end = nullptr;
    double seconds = std::strtod(extras.shutdown_timeout.c_str(), &end);
    if (*end != '\0' || !(seconds > 0) || seconds > 86400) {
      return fail(1, "Incorrect shutdown-timeout flag '" + extras.shutdown_timeout + "'. Use seconds, e.g. 30.",
                  true);
    }
    config.shutdown_timeout_ms = static_cast<unsigned>(seconds * 1000 + 0.5);
  }
  // --address=unix:PATH is the same as --unixsocket=PATH.
  for (auto it = config.addresses.begin(); it != config.addresses.end();) {
    if (it->rfind("unix:", 0) == 0) {
      config.unixsocket = it->substr(5);
      it = config.addresses.erase(it);
    } else {
      ++it;
    }
  }
  if (extras.version) {
    outcome.stdout_text = version_line();
    return outcome;
  }
  if (extras.license) {
    outcome.stdout_text = license_text();
    return outcome;
  }
  if (argc <= 1) return fail(1, "Command line arguments are missing.", true);
  if (config.passstderr && config.binary) {
    return fail(1, "--passstderr cannot be used with --binary.", false);
  }
  if (config.ssl && (config.sslcert.empty() || config.sslkey.empty())) {
    return fail(1, "Please specify both --sslcert and --sslkey when requesting --ssl.", false);
  }
  if (!config.ssl &&
      (!config.sslcert.empty() || !config.sslkey.empty() || !config.sslca.empty())) {
    return fail(1, "You should not be using --ssl* flags when there is no --ssl option.",
                false);
  }
  if (!pass.has_command && config.dir.empty() && config.staticdir.empty() &&
      config.cgidir.empty()) {
    return fail(1, "Please specify COMMAND or provide --dir, --staticdir or --cgidir argument.",
                true);
  }
  if (pass.has_command && !config.dir.empty()) {
    return fail(1, "Ambiguous. Provided COMMAND and --dir argument. Please only specify just one.",
                false);
  }
  if (pass.has_command && pass.command.empty()) {
    return fail(1, "COMMAND must not be an empty string.", false);
  }
  config.command = std::move(pass.command);
  config.command_args = std::move(pass.command_args);
  outcome.run = true;
  return outcome;
}

}  // namespace

bool parse_log_level(const std::string& name, LogLevel& level) {
  static const LogLevel kLevels[] = {LogLevel::Debug, LogLevel::Trace, LogLevel::Access,
                                     LogLevel::Info,  LogLevel::Error, LogLevel::Fatal,
                                     LogLevel::None};
  for (LogLevel candidate : kLevels) {
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
    return fail(1, std::string("internal error while parsing the command line: ") + e.what(),
                false);
  } catch (...) {
    return fail(1, "internal error while parsing the command line", false);
  }
}

}  // namespace wsbridge::cli
