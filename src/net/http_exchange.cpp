// HttpExchange: the request, its route, and every answer but the upgrade
// (http_exchange_upgrade.cpp).
#include "net/http_exchange.h"

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <new>

#include "log/logger.h"
#include "net/devconsole.h"
#include "net/disk_fs_view.h"
#include "wsbridge/bridge/cgi_script_env.h"
#include "wsbridge/bridge/client_address.h"
#include "wsbridge/http/response.h"
#include "wsbridge/route/https_redirect.h"

namespace wsbridge::net {

using log::LogLevel;

namespace {

// How many body bytes the request says will follow its head: its
// Content-Length, 0 without one, or "unknown" (the maximum) for a chunked
// body or a length that cannot be read (or is the maximum itself).
std::uint64_t announced_body_bytes(const http::Request& request) noexcept {
  if (request.find_header("Transfer-Encoding") != nullptr) return UINT64_MAX;
  const std::string* length = request.find_header("Content-Length");
  if (length == nullptr) return 0;
  char* end = nullptr;
  errno = 0;
  const std::uint64_t value = std::strtoull(length->c_str(), &end, 10);
  if (length->empty() || *end != '\0' || errno != 0) return UINT64_MAX;
  return value;
}

}  // namespace

HttpExchange::HttpExchange(ServerContext& context, ClientStream& stream, Owner& owner, std::string& log_fields,
                           bool redirect_only) noexcept
    : context_(context), stream_(stream), owner_(owner), log_fields_(log_fields), redirect_only_(redirect_only) {}

bool HttpExchange::start() noexcept {
  parser_ = std::unique_ptr<http::RequestParser>(new (std::nothrow) http::RequestParser(context_.parser_limits));
  if (!parser_) {
    stream_.close();
    return false;
  }
  stream_.start_timer(kRequestTimeoutMs);
  stream_.start_reading();
  return true;
}

// ------------------------------------------------------- stream events

void HttpExchange::on_stream_data(char* data, std::size_t size) noexcept {
  if (phase_ != Phase::ReadingRequest) note_body_bytes(size);
  if (lookup_) {
    hold_during_lookup(data, size);
  } else if (phase_ == Phase::ReadingRequest) {
    on_request_bytes(data, size);
  } else if (pending_) {
    // Reading is paused while --auth decides; what was already on its way
    // waits with the request.
    try {
      pending_->early_bytes.append(data, size);
    } catch (const std::bad_alloc&) {
      stream_.close();
    }
  } else if (cgi_) {
    cgi_->on_request_body(data, size);  // a CGI request's body
  }
  // Otherwise anything more the client sends is ignored.
}

void HttpExchange::on_stream_drained() noexcept {
  if (cgi_) cgi_->on_client_drained();
  if (static_file_) {
    // The client took what was queued: it is alive, send more.
    stream_.start_timer(kResponseStallTimeoutMs);
    if (!static_file_->pump(context_.read_buffer, sizeof context_.read_buffer)) static_file_.reset();
  }
}

void HttpExchange::on_stream_input_ended(int uv_status) noexcept {
  // A client that shuts down its sending side after a complete request
  // (nc -N, socat, some HTTP/1.0 tools) means "no more requests", not
  // "gone": the response goes on, and the stream closes after it (or when
  // the client stops reading it, by the response's own timeouts). Before the
  // request is complete, during an upgrade, or with a CGI request body
  // still due, nothing sensible can follow.
  const bool body_due = cgi_ != nullptr && !cgi_closed_ && cgi_->expects_body();
  if (uv_status == UV_EOF && phase_ == Phase::Responding && !body_due) return;
  stream_.close();
}

void HttpExchange::on_stream_timer() noexcept {
  if (room_wait_) {
    on_room_wait_tick();
    return;
  }
  if (phase_ == Phase::ReadingRequest) {
    log::write(LogLevel::Access, "http", log_fields_,
               "Request head not received within " + std::to_string(kRequestTimeoutMs) + " ms");
    refuse(http::Refusal::RequestTimeout);
    return;
  }
  // A response did not finish in time.
  stream_.close();
}

void HttpExchange::on_stream_closed() noexcept {
  if (lookup_) {
    // The client left while its name was being looked up: nobody wants it.
    HostNameLookups::cancel(*lookup_->lookup);
    lookup_.reset();
  }
  if (cgi_) cgi_->cancel();
  if (auth_) auth_->cancel();
  report_idle_when_done();
}

void HttpExchange::note_body_bytes(std::size_t size) noexcept {
  if (body_unread_ == UINT64_MAX) return;  // unknown: it stays unknown
  body_unread_ -= size < body_unread_ ? size : body_unread_;
}

void HttpExchange::linger_for_unread_body() noexcept {
  if (body_unread_ > 0) stream_.linger_before_close();
}

void HttpExchange::report_idle_when_done() noexcept {
  if (idle_reported_ || !stream_.closed() || busy()) return;
  idle_reported_ = true;
  owner_.on_exchange_idle();
}

void HttpExchange::shut_down_for_server() noexcept {
  if (phase_ == Phase::Responding) {
    if (cgi_) cgi_->shut_down();
  } else {
    stream_.close();
  }
}

void HttpExchange::kill_child_now() noexcept {
  if (cgi_) cgi_->kill_now();
  if (auth_) auth_->kill_now();
}

// ------------------------------------------------------------ the request

void HttpExchange::on_request_bytes(char* data, std::size_t size) noexcept {
  std::size_t consumed = 0;
  auto status = parser_->feed(data, size, consumed);
  if (status == http::RequestParser::Status::NeedMore) return;
  if (status == http::RequestParser::Status::Error) {
    log::write(LogLevel::Access, "http", log_fields_, "Bad request: " + parser_->error_reason());
    refuse(http::refusal_for_request_error(parser_->error_status()), parser_->error_reason());
    return;
  }
  handle_request(data + consumed, size - consumed);
}

void HttpExchange::describe_in_log(const http::Request& request) {
  std::string remote_addr, remote_port;
  remote_endpoint(request, remote_addr, remote_port);
  const std::string* host = request.find_header("Host");
  log_fields_.clear();
  log::append_field(log_fields_, "url",
                    std::string(stream_.tls() ? "https://" : "http://") + (host ? *host : "") + request.target);
  unique_id_ = context_.unique_ids->next();
  log::append_field(log_fields_, "id", std::to_string(unique_id_));
  log::append_field(log_fields_, "remote", remote_addr);
}

void HttpExchange::handle_request(char* rest, std::size_t rest_size) noexcept {
  stream_.stop_timer();
  request_completed_ns_ = uv_hrtime();
  const http::Request& request = parser_->request();
  body_unread_ = announced_body_bytes(request);
  note_body_bytes(rest_size);
  try {
    describe_in_log(request);
    if (!admit_client()) return;
    if (redirect_only_) {
      redirect_to_https(request);
      return;
    }
    static const DiskFsView disk;
    route::Route route = route::route_request(request, *context_.config, disk);
    // websocketd names the program in every line of a COMMAND server, and
    // the script in --dir mode once one is found.
    if (route.kind == route::RouteKind::WebSocketScript) {
      log::append_field(log_fields_, "command", route.file_path);
    } else if (!context_.command_text.empty()) {
      log::append_field(log_fields_, "command", context_.command_text);
    }
    if (!context_.auth_program.empty()) {
      ask_auth_program(request, std::move(route), rest, rest_size);
      return;
    }
    answer(request, route, rest, rest_size);
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
  }
}

void HttpExchange::answer(const http::Request& request, const route::Route& route, char* rest,
                          std::size_t rest_size) {
  switch (route.kind) {
    case route::RouteKind::WebSocketCommand:
    case route::RouteKind::WebSocketScript:
      start_websocket(request, route, rest, rest_size);
      return;
    case route::RouteKind::ScriptNotFound:
      // websocketd takes a fork slot before it looks for the script.
      if (refuse_when_out_of_forks("Max of possible forks already active, upgrade rejected")) return;
      log::write(LogLevel::Access, "session", log_fields_, "NOT FOUND: script not found");
      refuse(http::Refusal::ScriptNotFound);
      return;
    case route::RouteKind::StaticFile:
      serve_static_file(request, route);
      return;
    case route::RouteKind::CgiScript:
      run_cgi_script(request, route, rest, rest_size);
      return;
    case route::RouteKind::DevConsole:
      answer_with_console(request);
      return;
    case route::RouteKind::Forbidden:
      log::write(LogLevel::Access, "http", log_fields_, "FORBIDDEN: " + route.message);
      refuse(http::Refusal::Forbidden, route.message, context_.http_headers);
      return;
    case route::RouteKind::MethodNotAllowed:
      refuse(http::Refusal::MethodNotAllowed, route.message, context_.http_headers);
      return;
    case route::RouteKind::Redirect: {
      std::vector<http::Header> headers = context_.http_headers;
      headers.push_back({"Location", route.location});
      respond_and_close(301, http::moved_permanently_body(route.location), headers);
      return;
    }
    case route::RouteKind::BadRequest:
      refuse(http::Refusal::MalformedPath, {}, context_.http_headers);
      return;
    case route::RouteKind::NotFound:
      log::write(LogLevel::Access, "http", log_fields_, "NOT FOUND");
      refuse(http::Refusal::NotFound, {}, context_.http_headers);
      return;
  }
}

bool HttpExchange::refuse_when_out_of_forks(const char* log_text) noexcept {
  if (!context_.fork_limit_reached()) return false;
  log::write(LogLevel::Error, "http", log_fields_, log_text);
  refuse(http::Refusal::ForkLimit);
  return true;
}

void HttpExchange::remote_endpoint(const http::Request& request, std::string& address, std::string& port) const {
  stream_.peer_address(address, port);
  // Behind a trusted proxy the client is who the proxy says it is.
  if (!context_.trusted_proxies.empty()) {
    std::string client = bridge::client_address(address, request, context_.trusted_proxies);
    if (client != address) {
      address = std::move(client);
      port.clear();  // the proxy does not tell the client's port
    }
  }
}

bridge::ConnectionFacts HttpExchange::connection_facts(const http::Request& request,
                                                       const route::Route& route) const {
  bridge::ConnectionFacts facts;
  remote_endpoint(request, facts.remote_addr, facts.remote_port);
  facts.remote_host = facts.remote_addr;
  facts.tls = stream_.tls();
  facts.script_name = route.script_name;
  facts.path_info = route.path_info;
  facts.unique_id = std::to_string(unique_id_);  // the log's id, as websocketd
  facts.server_software = context_.server_software;
  return facts;
}

// ------------------------------------------------------------ the answers

void HttpExchange::answer_with_console(const http::Request& request) noexcept {
  log::write(LogLevel::Access, "http", log_fields_, "DEVCONSOLE");
  phase_ = Phase::Responding;
  try {
    const std::string response = format_devconsole_response(request, context_.http_headers);
    send_response_bytes(response.data(), response.size());
  } catch (const std::bad_alloc&) {
    // The connection closes without an answer.
  }
  parser_.reset();  // the request is not needed any more
  end_response();
}

void HttpExchange::redirect_to_https(const http::Request& request) noexcept {
  // The fallback host is the address this connection reached us on.
  std::string location = route::https_redirect_location(request, context_.https_port, stream_.local_host());
  log::write(LogLevel::Access, "http", log_fields_, "REDIRECT to " + location);
  std::vector<http::Header> headers = context_.http_headers;
  headers.push_back({"Location", location});
  respond_and_close(301, http::moved_permanently_body(location), headers);
}

void HttpExchange::serve_static_file(const http::Request& request, const route::Route& route) noexcept {
  log::write(LogLevel::Access, "http", log_fields_, "STATIC");
  phase_ = Phase::Responding;
  static_file_ = StaticResponder::start(request, route.file_path, context_.http_headers, *this);
  parser_.reset();  // the request is not needed any more
  stream_.start_timer(kResponseStallTimeoutMs);
  if (static_file_ && !static_file_->pump(context_.read_buffer, sizeof context_.read_buffer)) static_file_.reset();
}

void HttpExchange::refuse(http::Refusal refusal, std::string_view detail,
                          const std::vector<http::Header>& headers) noexcept {
  ++context_.metrics.refusals[static_cast<std::size_t>(refusal)];
  const int status = http::refusal_info(refusal).status;
  try {
    std::vector<http::Header> all = headers;
    http::add_refusal_headers(refusal, all);
    respond_and_close(status, http::refusal_body(refusal, detail), all);
  } catch (const std::bad_alloc&) {
    respond_and_close(status, {});  // out of memory: the status alone
  }
}

void HttpExchange::respond_and_close(int status, std::string_view body,
                                     const std::vector<http::Header>& extra_headers) noexcept {
  phase_ = Phase::Responding;
  parser_.reset();
  try {
    std::string response = http::format_response(status, extra_headers, body);
    stream_.write(response.data(), response.size());
  } catch (const std::bad_alloc&) {
    // The status cannot be formatted: the connection closes without it.
  }
  // Bound the time a slow reader can hold the response.
  stream_.start_timer(kCloseHandshakeTimeoutMs);
  linger_for_unread_body();
  stream_.finish_then_close();
}

// ----------------------------------------------------------- ResponseSink

void HttpExchange::send_response_bytes(const char* data, std::size_t size) noexcept { stream_.write(data, size); }

bool HttpExchange::response_backlogged() const noexcept { return stream_.backlogged(); }

void HttpExchange::end_response() noexcept {
  // The last bytes get as long to leave as any other chunk.
  stream_.start_timer(kResponseStallTimeoutMs);
  linger_for_unread_body();
  stream_.finish_then_close();
}

void HttpExchange::abort_response() noexcept { stream_.close(); }

// -------------------------------------------------------------------- CGI

void HttpExchange::run_cgi_script(const http::Request& request, const route::Route& route, char* rest,
                                  std::size_t rest_size) noexcept {
  log::append_field(log_fields_, "cgiscript", route.file_path);
  static constexpr const char* kNoForkLeft =
      "Fork not allowed since maxforks amount has been reached. CGI was not run.";
  if (context_.fork_limit_reached()) {
    log::write(LogLevel::Error, "http", log_fields_, kNoForkLeft);
    refuse(http::Refusal::ForkLimit, {}, context_.http_headers);
    return;
  }
  // The body is passed on as it arrives, so its length must be known.
  if (request.find_header("Transfer-Encoding") != nullptr) {
    refuse(http::Refusal::ChunkedBody, {}, context_.http_headers);
    return;
  }
  const std::uint64_t body_length = announced_body_bytes(request);
  if (body_length == UINT64_MAX) {
    refuse(http::Refusal::BadContentLength, {}, context_.http_headers);
    return;
  }
  log::write(LogLevel::Access, "http", log_fields_, "CGI");
  std::vector<std::string> env;
  try {
    env = bridge::build_cgi_script_env(request, connection_facts(request, route), context_.passenv,
                                       route.file_path);
    add_auth_variables(env);
    ResponseSink& sink = *this;
    CgiResponder::Owner& owner = *this;
    cgi_ = std::make_unique<CgiResponder>(context_, sink, owner, log_fields_);
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
    return;
  }
  // The early check above saves work; taking the slot is what keeps
  // --maxforks exact when other workers race for the last one.
  if (!context_.take_fork_slot()) {
    cgi_.reset();
    log::write(LogLevel::Error, "http", log_fields_, kNoForkLeft);
    refuse(http::Refusal::ForkLimit, {}, context_.http_headers);
    return;
  }
  // Once start() has queued the script, the responder owns the slot and
  // gives it back when the script's pipes are closed and its group is gone,
  // or when it cannot start; a script that was never queued gives it back
  // here.
  int err = cgi_->start(stream_.loop(), route.file_path, std::move(env), body_length, request.method == "HEAD",
                        std::string_view(rest, rest_size));
  if (err != 0) {
    context_.release_fork_slot();
    cgi_.reset();
    log::write(LogLevel::Error, "process", log_fields_,
               "Could not launch CGI script " + route.file_path + " (" + std::strerror(err) + ")");
    refuse(http::refusal_for_launch_error(err), std::string("could not run the CGI script (") + std::strerror(err) + ")",
           context_.http_headers);
    return;
  }
  // A client that sent "Expect: 100-continue" holds its body back until it
  // hears that the body is wanted (RFC 9110 §10.1.1); curl waits a second
  // for this. The script will read it, so say so now. (HTTP/1.0 has no
  // interim responses; a body already sent whole needs no invitation.)
  if (body_length > rest_size && request.http_minor >= 1 && request.header_has_token("Expect", "100-continue")) {
    static constexpr char kContinue[] = "HTTP/1.1 100 Continue\r\n\r\n";
    stream_.write(kContinue, sizeof kContinue - 1);
  }
  phase_ = Phase::Responding;
  stream_.stop_timer();  // the responder times the script itself
  parser_.reset();
}

void HttpExchange::on_cgi_closed() noexcept {
  // Called from the responder's last close callback: it is freed with the
  // exchange, not under its own feet.
  cgi_closed_ = true;
  report_idle_when_done();
}

void HttpExchange::pause_request_body() noexcept { stream_.pause_reading(ClientStream::kProgramInputFull); }

void HttpExchange::resume_request_body() noexcept { stream_.resume_reading(ClientStream::kProgramInputFull); }

}  // namespace wsbridge::net
