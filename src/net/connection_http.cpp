// Connection, continued: the answers to plain HTTP requests (redirects,
// static files, CGI scripts, error responses). The socket, the dispatch and
// the teardown are in connection.cpp; the WebSocket half in
// connection_websocket.cpp.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/connection.h"
#include "net/static_responder.h"
#include "net/uv_cast.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/bridge/cgi_script_env.h"
#include "wsbridge/http/response.h"
#include "wsbridge/route/https_redirect.h"

namespace wsbridge::net {

using log::LogLevel;

void Connection::redirect_to_https(const http::Request& request) noexcept {
  // The fallback host is the address this connection reached us on.
  sockaddr_storage local{};
  int length = sizeof local;
  char text[INET6_ADDRSTRLEN] = "localhost";
  std::string fallback = text;
  if (uv_tcp_getsockname(&socket_.tcp, reinterpret_cast<sockaddr*>(&local), &length) == 0) {
    if (local.ss_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(&local)->sin_addr, text, sizeof text);
      fallback = text;
    } else if (local.ss_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(&local)->sin6_addr, text, sizeof text);
      fallback = std::string("[") + text + "]";
    }
  }
  std::string location = route::https_redirect_location(request, context_.https_port, fallback);
  log::write(LogLevel::Access, "http", log_fields_, "REDIRECT to " + location);
  std::vector<http::Header> headers = context_.http_headers;
  headers.push_back({"Location", location});
  respond_and_close(301, http::moved_permanently_body(location), headers);
}

void Connection::serve_static_file(const http::Request& request, const route::Route& route) noexcept {
  log::write(LogLevel::Access, "http", log_fields_, "STATIC");
  phase_ = Phase::Responding;
  static_file_ = StaticResponder::start(request, route.file_path, context_.http_headers, *this);
  parser_.reset();  // the request is not needed any more
  uv_timer_start(&timer_, &Connection::on_timer, kResponseStallTimeoutMs, 0);
  if (static_file_ && !static_file_->pump(context_.read_buffer, sizeof context_.read_buffer)) static_file_.reset();
}

void Connection::run_cgi_script(const http::Request& request, const route::Route& route, char* rest,
                                std::size_t rest_size) noexcept {
  log::append_field(log_fields_, "cgiscript", route.file_path);
  if (context_.fork_limit_reached()) {
    log::write(LogLevel::Error, "http", log_fields_,
               "Fork not allowed since maxforks amount has been reached. CGI was not run.");
    refuse(http::Refusal::ForkLimit, {}, context_.http_headers);
    return;
  }
  // The body is passed on as it arrives, so its length must be known.
  if (request.find_header("Transfer-Encoding") != nullptr) {
    refuse(http::Refusal::ChunkedBody, {}, context_.http_headers);
    return;
  }
  std::uint64_t body_length = 0;
  if (const std::string* length = request.find_header("Content-Length")) {
    char* end = nullptr;
    errno = 0;
    body_length = std::strtoull(length->c_str(), &end, 10);
    if (length->empty() || *end != '\0' || errno != 0) {
      refuse(http::Refusal::BadContentLength, {}, context_.http_headers);
      return;
    }
  }
  log::write(LogLevel::Access, "http", log_fields_, "CGI");
  std::vector<std::string> env;
  try {
    env = bridge::build_cgi_script_env(request, connection_facts(request, route), context_.passenv,
                                       route.file_path);
    ResponseSink& sink = *this;
    CgiResponder::Owner& owner = *this;
    cgi_ = std::make_unique<CgiResponder>(context_, sink, owner, log_fields_);
  } catch (...) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  // The early check above saves work; taking the slot is what keeps
  // --maxforks exact when other workers race for the last one.
  if (!context_.take_fork_slot()) {
    cgi_.reset();
    log::write(LogLevel::Error, "http", log_fields_,
               "Fork not allowed since maxforks amount has been reached. CGI was not run.");
    refuse(http::Refusal::ForkLimit, {}, context_.http_headers);
    return;
  }
  // Once start() has queued the script, the responder owns the slot and
  // gives it back when the script is reaped or cannot start; a script that
  // was never queued gives it back here.
  int err = cgi_->start(socket_.handle.loop, route.file_path, std::move(env), body_length,
                        request.method == "HEAD", std::string_view(rest, rest_size));
  if (err != 0) {
    context_.release_fork_slot();
    cgi_.reset();
    log::write(LogLevel::Error, "process", log_fields_,
               "Could not launch CGI script " + route.file_path + " (" + std::strerror(err) + ")");
    refuse(http::refusal_for_launch_error(err), std::string("could not run the CGI script (") + std::strerror(err) + ")",
           context_.http_headers);
    return;
  }
  ++open_handles_;  // the responder's handles; on_cgi_closed gives it back
  phase_ = Phase::Responding;
  uv_timer_stop(&timer_);  // the responder times the script itself
  parser_.reset();
}

void Connection::on_cgi_closed() noexcept {
  --open_handles_;
  maybe_destroy();
}

void Connection::pause_request_body() noexcept { pause_socket_reading(kStdinFull); }

void Connection::resume_request_body() noexcept { resume_socket_reading(kStdinFull); }

void Connection::send_response_bytes(const char* data, std::size_t size) noexcept {
  socket_queue_.write(data, size);
}

bool Connection::response_backlogged() const noexcept { return socket_queue_.over_high_water(); }

void Connection::end_response() noexcept {
  // The last bytes get as long to leave as any other chunk.
  uv_timer_start(&timer_, &Connection::on_timer, kResponseStallTimeoutMs, 0);
  socket_queue_.finish_then();
}

void Connection::abort_response() noexcept { close_socket(); }

void Connection::refuse(http::Refusal refusal, std::string_view detail,
                        const std::vector<http::Header>& headers) noexcept {
  ++context_.metrics.refusals[static_cast<std::size_t>(refusal)];
  const int status = http::refusal_info(refusal).status;
  try {
    std::vector<http::Header> all = headers;
    http::add_refusal_headers(refusal, all);
    respond_and_close(status, http::refusal_body(refusal, detail), all);
  } catch (...) {
    respond_and_close(status, {});  // out of memory: the status alone
  }
}

void Connection::respond_and_close(int status, std::string_view body,
                                   const std::vector<http::Header>& extra_headers) noexcept {
  phase_ = Phase::Responding;
  parser_.reset();
  try {
    std::string response = http::format_response(status, extra_headers, body);
    socket_queue_.write(response.data(), response.size());
  } catch (...) {
  }
  // Bound the time a slow reader can hold the response.
  uv_timer_start(&timer_, &Connection::on_timer, kCloseHandshakeTimeoutMs, 0);
  socket_queue_.finish_then();
}

}  // namespace wsbridge::net
