// wsbridge: turns any program that reads stdin and writes stdout into a
// WebSocket server, one process per connection (websocketd-compatible).
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <algorithm>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "log/logger.h"
#include "net/listener.h"
#include "net/server.h"
#include "net/server_context.h"
#include "net/systemd.h"
#include "proc/pid1_init.h"
#include "proc/privileges.h"
#include "proc/spawn.h"
#include "proc/spawner.h"
#include "wsbridge/bridge/origin_policy.h"
#include "wsbridge/cli/config.h"
#include "wsbridge/cli/readable_files.h"
#include "wsbridge/http/url.h"

namespace {

using wsbridge::cli::Config;
using wsbridge::log::LogLevel;
namespace net = wsbridge::net;

// Exit codes, as websocketd: 1 configuration, 2 usage (from the parser),
// 3 cannot listen.
constexpr int kExitConfigError = 1;
constexpr int kExitUsage = 2;  // as every other option value refused at start-up
constexpr int kExitCannotListen = 3;
constexpr int kExitConflictingOptions = 4;  // --devconsole with --staticdir or --cgidir

// Descriptors 0-2 must be open, or the first pipe we create could become
// "stdin" and the child's dup2 onto itself would keep close-on-exec.
void ensure_standard_descriptors_open() {
  for (int fd = 0; fd <= 2; ++fd) {
    if (fcntl(fd, F_GETFD) < 0) {
      int null_fd = open("/dev/null", O_RDWR);
      if (null_fd >= 0 && null_fd != fd) {
        dup2(null_fd, fd);
        close(null_fd);
      }
    }
  }
}

// Each connection holds a socket and three pipes: the default soft
// limit of 1024 descriptors would cap us near 250 connections.
void raise_descriptor_limit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
    limit.rlim_cur = limit.rlim_max;
    setrlimit(RLIMIT_NOFILE, &limit);
  }
}

// --dir, --staticdir and --cgidir are made absolute once (websocketd uses
// filepath.Abs) and must name folders, with websocketd's messages.
bool prepare_folder(std::string& folder) {
  if (folder.empty()) return true;
  if (folder.front() != '/') {
    char cwd[PATH_MAX];
    if (getcwd(cwd, sizeof cwd) == nullptr) return false;
    folder = wsbridge::http::clean_path(std::string(cwd) + "/" + folder);
  } else {
    folder = wsbridge::http::clean_path(folder);
  }
  struct stat info {};
  return stat(folder.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool prepare_folders(Config& config) {
  const struct {
    std::string* folder;
    const char* message;
  } folders[] = {
      {&config.dir, "Could not find your script dir '%s'.\n"},
      {&config.staticdir, "Your static dir '%s' is not pointing to an accessible directory.\n"},
      {&config.cgidir, "Your CGI dir '%s' is not pointing to an accessible directory.\n"},
  };
  for (const auto& entry : folders) {
    const std::string as_given = *entry.folder;
    if (!prepare_folder(*entry.folder)) {
      std::fprintf(stderr, entry.message, as_given.c_str());
      return false;
    }
  }
  return true;
}

// --workers=0 (the default): one loop per core, since a loop is one thread
// and each connection is served by one loop.
unsigned worker_count(const Config& config) {
  if (config.workers != 0) return config.workers;
  unsigned cores = std::thread::hardware_concurrency();
  return std::clamp(cores, 1u, wsbridge::cli::kMaxWorkers);
}

std::string join_command(const Config& config, const std::string& path) {
  std::string text = path;
  for (const auto& arg : config.command_args) text += " " + arg;
  return text;
}

// A start-up step that fails says with which exit status main() returns.
using EarlyExit = std::optional<int>;

EarlyExit fatal(int exit_code, const std::string& message) {
  wsbridge::log::write(LogLevel::Fatal, "server", "", message);
  return exit_code;
}

// Prints what parsing had to say; true when the server is to run.
bool report_parse_outcome(const wsbridge::cli::ParseOutcome& outcome) {
  if (!outcome.stdout_text.empty()) std::fputs(outcome.stdout_text.c_str(), stdout);
  if (!outcome.stderr_text.empty()) std::fputs(outcome.stderr_text.c_str(), stderr);
  std::fflush(stdout);
  return outcome.run;
}

// Folders and files the options name, checked before anything is bound.
// Folders with websocketd's messages (exit 1); the TLS files with the OS's
// reason (exit 3, as websocketd, which finds out only when it listens).
EarlyExit check_named_paths(Config& config) {
  if (!prepare_folders(config)) return kExitConfigError;
  if (const std::string problem = wsbridge::cli::first_unreadable_file(config); !problem.empty()) {
    std::fprintf(stderr, "Can't start server: %s\n", problem.c_str());
    return kExitCannotListen;
  }
  return std::nullopt;
}

// COMMAND resolved once (websocketd: exec.LookPath with the server's PATH).
EarlyExit resolve_command(const Config& config, net::ServerContext& context) {
  context.command_text = config.command;
  if (config.command.empty()) return std::nullopt;
  context.command_path = wsbridge::proc::find_executable(config.command, std::getenv("PATH"));
  if (context.command_path.empty()) {
    std::fprintf(stderr, "Unable to locate specified COMMAND '%s' in OS path.\n", config.command.c_str());
    return kExitConfigError;
  }
  context.command_argv.push_back(context.command_path);
  for (const auto& arg : config.command_args) context.command_argv.push_back(arg);
  return std::nullopt;
}

// --auth's program, found as COMMAND is (a path, or a name in PATH), so a
// typo stops the server at start-up rather than refusing every request.
EarlyExit resolve_auth_program(const Config& config, net::ServerContext& context) {
  if (config.auth.empty()) return std::nullopt;
  context.auth_program = wsbridge::proc::find_executable(config.auth, std::getenv("PATH"));
  if (context.auth_program.empty()) {
    std::fprintf(stderr, "Invalid --auth=%s: not an executable file (a path, or a name in PATH)\n",
                 config.auth.c_str());
    return kExitUsage;
  }
  return std::nullopt;
}

// Everything connections read from the options, computed once.
EarlyExit fill_context(const Config& config, net::ServerContext& context) {
  context.config = &config;
  wsbridge::log::set_level(config.loglevel);
  wsbridge::log::set_json(config.log_json);
  // The console answers every plain request, so it would hide the files.
  if (config.devconsole && (!config.staticdir.empty() || !config.cgidir.empty())) {
    return fatal(kExitConflictingOptions, std::string("Invalid parameters: --devconsole cannot be used with ") +
                                              (!config.staticdir.empty() ? "--staticdir" : "--cgidir") +
                                              ". Pick one.");
  }
  if (EarlyExit exit = resolve_command(config, context)) return exit;
  if (EarlyExit exit = resolve_auth_program(config, context)) return exit;
  context.passenv = wsbridge::bridge::capture_passenv(config.passenv,
                                                      [](const char* name) -> const char* { return std::getenv(name); });
  context.origin_policy = wsbridge::bridge::make_origin_policy(config.origin, config.sameorigin);
  context.deflate.enabled = config.deflate;
  context.deflate.threshold = static_cast<std::size_t>(config.deflate_threshold);
  for (const auto& h : config.headers) context.upgrade_headers.push_back(net::parse_header_flag(h));
  for (const auto& h : config.headers_ws) context.upgrade_headers.push_back(net::parse_header_flag(h));
  for (const auto& h : config.headers_http) context.http_headers.push_back(net::parse_header_flag(h));
  for (const auto& list : config.trusted_proxies) {
    std::string why;
    if (!context.trusted_proxies.add(list, why)) {
      std::fprintf(stderr, "Invalid --trusted-proxy: %s\n", why.c_str());
      return kExitConfigError;
    }
  }
  context.max_line = config.max_message == 0 ? net::kUnlimitedLineCap : static_cast<size_t>(config.max_message);
  context.server_software = std::string("wsbridge/") + WSBRIDGE_VERSION;
  return std::nullopt;
}

// Where to listen: the port (0 → 80, or 443 with --ssl) on each --address,
// or on all interfaces; systemd's sockets instead when it passes some.
struct ListenPlan {
  int port = 0;
  std::vector<net::ListenAddress> addresses;
  std::vector<net::systemd::InheritedSocket> inherited;
};

EarlyExit plan_listeners(const Config& config, ListenPlan& plan) {
  plan.port = config.port != 0 ? config.port : (config.ssl ? 443 : 80);
  // A Unix socket alone replaces the TCP listener (websocketd's main branch).
  const bool unix_only = !config.unixsocket.empty() && config.port == 0 && config.addresses.empty();
  if (config.addresses.empty() && !unix_only) {
    plan.addresses.push_back({"", false, ":" + std::to_string(plan.port)});
  }
  for (const auto& value : config.addresses) {
    net::ListenAddress address;
    std::string error;
    if (!net::parse_listen_address(value, plan.port, address, error)) {
      return fatal(kExitCannotListen, "Can't start server: " + error);
    }
    plan.addresses.push_back(address);
  }
  return std::nullopt;
}

// Process-wide settings, before the first socket or thread exists.
void prepare_process(const Config& config) {
  signal(SIGPIPE, SIG_IGN);  // a vanished peer is an error value, not a signal
  // Several loops accept on one socket, and libuv accepts until the backlog
  // is empty: a burst of clients then all land on whichever loop woke
  // first. libuv's own switch for sharing a socket between processes makes
  // it yield after each accept, so the other loops take their turn. Read
  // once, at the first listen; children never see it (they get their own
  // environment).
  if (worker_count(config) > 1) setenv("UV_TCP_SINGLE_ACCEPT", "1", /*overwrite=*/0);
  raise_descriptor_limit();
  // Whatever the server inherited beyond 0-2 must not reach children.
  wsbridge::proc::mark_inherited_descriptors_cloexec();
}

// --metrics=HOST:PORT (its form was checked while parsing the options).
bool listen_for_metrics(net::Server& server, const std::string& host_and_port, std::string& error) {
  const std::size_t colon = host_and_port.rfind(':');
  const int port = std::stoi(host_and_port.substr(colon + 1));
  net::ListenAddress address;
  return net::parse_listen_address(host_and_port.substr(0, colon), port, address, error) &&
         server.listen_for_metrics(address, port, error);
}

// Signals, TLS and every listener, in that order.
EarlyExit open_listeners(net::Server& server, const Config& config, net::ServerContext& context,
                         ListenPlan& plan) {
  std::string error;
  // Before the first listen: from then on clients can connect (and test
  // harnesses and service managers think us up), so a SIGTERM must already
  // mean "shut down cleanly" rather than the default sudden death. It is
  // acted on once run() starts the loop.
  if (!server.catch_signals(error)) return fatal(kExitCannotListen, "Can't start server: " + error);
  context.https_port = plan.port;
  if (config.ssl && !server.enable_tls({config.sslcert, config.sslkey, config.sslca}, error)) {
    return fatal(kExitCannotListen, "Can't start server: " + error);
  }
  // Under systemd socket activation the .socket unit owns the port(s).
  plan.inherited = net::systemd::take_listen_fds();
  bool listening =
      plan.inherited.empty() ? server.listen(plan.addresses, plan.port, error) : server.adopt(plan.inherited, error);
  if (listening && !config.unixsocket.empty()) {
    listening = server.listen_unix(config.unixsocket, config.unixsocket_mode, error);
  }
  if (!listening ||
      (config.redirport != 0 && !server.listen_for_redirects(plan.addresses, config.redirport, error)) ||
      (!config.metrics.empty() && !listen_for_metrics(server, config.metrics, error))) {
    return fatal(kExitCannotListen, "Can't start server: " + error);
  }
  return std::nullopt;
}

// Privileges dropped, then the spawner and the worker threads started.
EarlyExit start_serving(net::Server& server, const Config& config, wsbridge::proc::Spawner& spawner) {
  std::string error;
  // What needs root is done: ports bound, TLS key read. Drop it before the
  // first request is served (a SIGHUP reload then reads the key files as
  // the new user).
  if ((!config.user.empty() || !config.group.empty()) &&
      !wsbridge::proc::drop_privileges(config.user, config.group, error)) {
    return fatal(kExitConfigError, "Can't drop privileges: " + error);
  }
  // Forked now: after the privilege drop (its children inherit its
  // credentials) and while this process still has one thread.
  if (int err = spawner.start(getpid()); err != 0) {
    wsbridge::log::write(LogLevel::Error, "server", "",
                         std::string("Cannot start the spawner process (") + std::strerror(err) +
                             "); children are started by the server itself");
  } else {
    wsbridge::log::write(LogLevel::Debug, "server", "", "Spawner process: pid " + std::to_string(spawner.pid()));
  }
  // Threads start only now: after the privilege drop, which then needs no
  // care for other threads, and before anything is logged as serving.
  if (!server.start_workers(worker_count(config), error)) {
    return fatal(kExitCannotListen, "Can't start server: " + error);
  }
  return std::nullopt;
}

void log_info(const std::string& message) { wsbridge::log::write(LogLevel::Info, "server", "", message); }

// websocketd's start-up lines, one per listener and what it serves.
void log_listener_urls(const Config& config, const ListenPlan& plan) {
  for (const auto& address : plan.addresses) {
    const std::string shown = address.host.empty() ? "0.0.0.0:" + std::to_string(plan.port) : address.display;
    log_info(std::string("Starting WebSocket server   : ") + (config.ssl ? "wss://" : "ws://") + shown + "/");
    const std::string http_url = std::string(config.ssl ? "https://" : "http://") + shown + "/";
    if (config.devconsole) {
      log_info("Developer console enabled   : " + http_url);
    } else if (!config.staticdir.empty() || !config.cgidir.empty()) {
      log_info("Serving CGI or static files : " + http_url);
    }
    if (config.redirport != 0) {
      const std::string redirect_host =
          address.host.empty() ? "0.0.0.0" : address.display.substr(0, address.display.rfind(':'));
      log_info("Starting redirect server   : http://" + redirect_host + ":" + std::to_string(config.redirport) + "/");
    }
  }
}

void log_what_is_served(const Config& config, const net::ServerContext& context, const ListenPlan& plan) {
  if (!config.command.empty()) {
    log_info("Serving using application   : " + join_command(config, context.command_path) + " ");
  }
  if (!config.dir.empty()) log_info("Serving from directory      : " + config.dir);
  if (!config.staticdir.empty()) log_info("Serving static content from : " + config.staticdir);
  if (!config.cgidir.empty()) log_info("Serving CGI scripts from    : " + config.cgidir);
  if (!config.unixsocket.empty()) log_info("Starting WebSocket server   : unix:" + config.unixsocket);
  if (!config.metrics.empty()) log_info("Serving metrics             : http://" + config.metrics + "/metrics");
  if (!plan.inherited.empty()) {
    log_info("Starting WebSocket server   : on " + std::to_string(plan.inherited.size()) +
             " socket(s) from systemd (socket activation)");
    return;
  }
  log_listener_urls(config, plan);
}

// From here on a log reader that falls behind must not stall the loops:
// lines go through the log's own thread (started after the last fork).
// Not before the banner: its lines are on the log when the main thread goes
// on, as they were before the thread existed, so whoever waits for
// "Starting WebSocket server" knows the listeners are up.
void start_log_writer() {
  if (!wsbridge::log::start_background_writer()) {
    wsbridge::log::write(LogLevel::Error, "server", "",
                         "Cannot start the log writer thread; log lines are written by the event loops");
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Spawner::start re-executes this program as its spawner process.
  if (argc == 3 && std::strcmp(argv[1], wsbridge::proc::kSpawnerArgument) == 0) {
    wsbridge::proc::run_spawner(wsbridge::proc::kSpawnerControlFd, static_cast<pid_t>(std::atol(argv[2])));
  }
  // As a container's PID 1, fork an init that reaps orphans and forwards
  // signals; only the server returns. First, so the init holds nothing of
  // the server's (no socket, thread or spawner). The spawner is never PID 1.
  wsbridge::proc::become_init_if_pid1();
  ensure_standard_descriptors_open();
  wsbridge::cli::ParseOutcome outcome = wsbridge::cli::parse_args(argc, argv);
  if (!report_parse_outcome(outcome)) return outcome.exit_code;
  Config& config = outcome.config;
  if (EarlyExit exit = check_named_paths(config)) return *exit;
  auto context = std::make_unique<net::ServerContext>();
  if (EarlyExit exit = fill_context(config, *context)) return *exit;
  ListenPlan plan;
  if (EarlyExit exit = plan_listeners(config, plan)) return *exit;
  prepare_process(config);

  // Static: after a forced exit, thread-pool work may still be starting a
  // child when main returns; stop() below makes it give up, and the object
  // must still be there when it does.
  static wsbridge::proc::Spawner spawner;
  context->spawner = &spawner;
  net::Server server(uv_default_loop(), *context);
  if (EarlyExit exit = open_listeners(server, config, *context, plan)) return *exit;
  if (EarlyExit exit = start_serving(server, config, spawner)) return *exit;
  log_what_is_served(config, *context, plan);
  start_log_writer();
  server.run();
  spawner.stop();
  wsbridge::log::write(LogLevel::Info, "server", "", "Stopped");
  return 0;
}
