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
#include <string>
#include <thread>

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
#include "wsbridge/http/url.h"

namespace {

using wsbridge::cli::Config;
using wsbridge::log::LogLevel;
namespace net = wsbridge::net;

// Exit codes, as websocketd: 1 configuration, 2 usage (from the parser),
// 3 cannot listen.
constexpr int kExitConfigError = 1;
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

// Each connection holds a socket, three pipes and a pidfd: the default soft
// limit of 1024 descriptors would cap us near 200 connections.
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
  if (!outcome.stdout_text.empty()) std::fputs(outcome.stdout_text.c_str(), stdout);
  if (!outcome.stderr_text.empty()) std::fputs(outcome.stderr_text.c_str(), stderr);
  if (!outcome.run) return outcome.exit_code;
  std::fflush(stdout);

  if (!prepare_folders(outcome.config)) return kExitConfigError;
  auto context = std::make_unique<net::ServerContext>();
  const Config& config = outcome.config;
  context->config = &config;
  wsbridge::log::set_level(config.loglevel);
  wsbridge::log::set_json(config.log_json);
  // The console answers every plain request, so it would hide the files.
  if (config.devconsole && (!config.staticdir.empty() || !config.cgidir.empty())) {
    wsbridge::log::write(LogLevel::Fatal, "server", "",
                         std::string("Invalid parameters: --devconsole cannot be used with ") +
                             (!config.staticdir.empty() ? "--staticdir" : "--cgidir") + ". Pick one.");
    return kExitConflictingOptions;
  }

  if (!config.command.empty()) {
    context->command_path = wsbridge::proc::find_executable(config.command, std::getenv("PATH"));
  }
  if (!config.command.empty() && context->command_path.empty()) {
    std::fprintf(stderr, "Unable to locate specified COMMAND '%s' in OS path.\n", config.command.c_str());
    return kExitConfigError;
  }
  if (!config.command.empty()) context->command_argv.push_back(context->command_path);
  for (const auto& arg : config.command_args) context->command_argv.push_back(arg);
  context->command_text = config.command;
  context->passenv = wsbridge::bridge::capture_passenv(config.passenv, [](const char* name) -> const char* {
    return std::getenv(name);
  });
  context->origin_policy = wsbridge::bridge::make_origin_policy(config.origin, config.sameorigin);
  for (const auto& h : config.headers) context->upgrade_headers.push_back(net::parse_header_flag(h));
  for (const auto& h : config.headers_ws) context->upgrade_headers.push_back(net::parse_header_flag(h));
  for (const auto& h : config.headers_http) context->http_headers.push_back(net::parse_header_flag(h));
  for (const auto& list : config.trusted_proxies) {
    std::string why;
    if (!context->trusted_proxies.add(list, why)) {
      std::fprintf(stderr, "Invalid --trusted-proxy: %s\n", why.c_str());
      return kExitConfigError;
    }
  }
  context->max_line = config.max_message == 0 ? net::kUnlimitedLineCap : static_cast<size_t>(config.max_message);
  context->server_software = std::string("wsbridge/") + WSBRIDGE_VERSION;

  int port = config.port != 0 ? config.port : (config.ssl ? 443 : 80);
  std::vector<net::ListenAddress> addresses;
  std::string error;
  // A Unix socket alone replaces the TCP listener (websocketd's main branch).
  bool unix_only = !config.unixsocket.empty() && config.port == 0 && config.addresses.empty();
  if (config.addresses.empty() && !unix_only) {
    addresses.push_back({"", false, ":" + std::to_string(port)});
  }
  for (const auto& value : config.addresses) {
    net::ListenAddress address;
    if (!net::parse_listen_address(value, port, address, error)) {
      wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't start server: " + error);
      return kExitCannotListen;
    }
    addresses.push_back(address);
  }

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

  // Static: after a forced exit, thread-pool work may still be starting a
  // child when main returns; stop() below makes it give up, and the object
  // must still be there when it does.
  static wsbridge::proc::Spawner spawner;
  context->spawner = &spawner;
  uv_loop_t* loop = uv_default_loop();
  net::Server server(loop, *context);
  // Before the first listen: from then on clients can connect (and test
  // harnesses and service managers think us up), so a SIGTERM must already
  // mean "shut down cleanly" rather than the default sudden death. It is
  // acted on once run() starts the loop.
  if (!server.catch_signals(error)) {
    wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't start server: " + error);
    return kExitCannotListen;
  }
  context->https_port = port;
  if (config.ssl && !server.enable_tls({config.sslcert, config.sslkey, config.sslca}, error)) {
    wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't start server: " + error);
    return kExitCannotListen;
  }
  // Under systemd socket activation the .socket unit owns the port(s).
  std::vector<net::systemd::InheritedSocket> inherited = net::systemd::take_listen_fds();
  bool listening = inherited.empty() ? server.listen(addresses, port, error) : server.adopt(inherited, error);
  if (listening && !config.unixsocket.empty()) {
    listening = server.listen_unix(config.unixsocket, config.unixsocket_mode, error);
  }
  if (!listening ||
      (config.redirport != 0 && !server.listen_for_redirects(addresses, config.redirport, error))) {
    wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't start server: " + error);
    return kExitCannotListen;
  }
  // What needs root is done: ports bound, TLS key read. Drop it before the
  // first request is served (a SIGHUP reload then reads the key files as
  // the new user).
  if ((!config.user.empty() || !config.group.empty()) &&
      !wsbridge::proc::drop_privileges(config.user, config.group, error)) {
    wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't drop privileges: " + error);
    return kExitConfigError;
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
    wsbridge::log::write(LogLevel::Fatal, "server", "", "Can't start server: " + error);
    return kExitCannotListen;
  }
  if (!config.command.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "",
                         "Serving using application   : " + join_command(config, context->command_path) + " ");
  }
  if (!config.dir.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "", "Serving from directory      : " + config.dir);
  }
  if (!config.staticdir.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "", "Serving static content from : " + config.staticdir);
  }
  if (!config.cgidir.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "", "Serving CGI scripts from    : " + config.cgidir);
  }
  if (!config.unixsocket.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "", "Starting WebSocket server   : unix:" + config.unixsocket);
  }
  if (!inherited.empty()) {
    wsbridge::log::write(LogLevel::Info, "server", "",
                         "Starting WebSocket server   : on " + std::to_string(inherited.size()) +
                             " socket(s) from systemd (socket activation)");
  }
  for (const auto& address : addresses) {
    if (!inherited.empty()) break;
    std::string shown = address.host.empty() ? "0.0.0.0:" + std::to_string(port) : address.display;
    wsbridge::log::write(LogLevel::Info, "server", "",
                         std::string("Starting WebSocket server   : ") + (config.ssl ? "wss://" : "ws://") + shown + "/");
    const std::string http_url = std::string(config.ssl ? "https://" : "http://") + shown + "/";
    if (config.devconsole) {
      wsbridge::log::write(LogLevel::Info, "server", "", "Developer console enabled   : " + http_url);
    } else if (!config.staticdir.empty() || !config.cgidir.empty()) {
      wsbridge::log::write(LogLevel::Info, "server", "", "Serving CGI or static files : " + http_url);
    }
    if (config.redirport != 0) {
      std::string redirect_host = address.host.empty() ? "0.0.0.0" : address.display.substr(0, address.display.rfind(':'));
      wsbridge::log::write(LogLevel::Info, "server", "",
                           "Starting redirect server   : http://" + redirect_host + ":" + std::to_string(config.redirport) + "/");
    }
  }
  // From here on a log reader that falls behind must not stall the loops:
  // lines go through the log's own thread (started after the last fork).
  // Not before the banner: its lines are on the log when the main thread
  // goes on, as they were before the thread existed, so whoever waits for
  // "Starting WebSocket server" knows the listeners are up.
  if (!wsbridge::log::start_background_writer()) {
    wsbridge::log::write(LogLevel::Error, "server", "",
                         "Cannot start the log writer thread; log lines are written by the event loops");
  }
  server.run();
  spawner.stop();
  wsbridge::log::write(LogLevel::Info, "server", "", "Stopped");
  return 0;
}
