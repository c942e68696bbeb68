// HttpExchange: who may be answered. First the per-client limits
// (--maxconn-per-client, --connect-rate) on the address the request
// established, then the --auth program, asked with the environment the
// endpoint would get, before any endpoint program starts or any file is read.
#include <algorithm>
#include <new>

#include "log/logger.h"
#include "net/http_exchange.h"
#include "wsbridge/bridge/cgi_script_env.h"
#include "wsbridge/bridge/client_key.h"
#include "wsbridge/http/response.h"

namespace wsbridge::net {

using log::LogLevel;

bool HttpExchange::admit_client() {
  bridge::ClientLimits& limits = *context_.client_limits;
  if (!limits.enabled()) return true;
  std::string address, port;
  remote_endpoint(parser_->request(), address, port);
  std::string key = bridge::client_key(address);
  const bridge::ClientLimits::Decision decision = limits.admit(key, uv_hrtime());
  switch (decision.verdict) {
    case bridge::ClientLimits::Verdict::Admitted:
      if (!key.empty()) client_slot_.hold(limits, std::move(key));
      return true;
    case bridge::ClientLimits::Verdict::TooManyOpen:
      log::write(LogLevel::Access, "http", log_fields_,
                 "Too many connections from " + key + " (--maxconn-per-client), request rejected");
      refuse(http::Refusal::ClientConnectionLimit, {}, context_.http_headers);
      return false;
    case bridge::ClientLimits::Verdict::TooFast: {
      log::write(LogLevel::Access, "http", log_fields_,
                 "Connecting too fast from " + key + " (--connect-rate), request rejected");
      std::vector<http::Header> headers = context_.http_headers;
      headers.push_back({"Retry-After", std::to_string(decision.retry_after_seconds)});
      refuse(http::Refusal::ClientRateLimit, {}, headers);
      return false;
    }
  }
  return true;
}

std::vector<std::string> HttpExchange::auth_environment(const http::Request& request,
                                                        const route::Route& route) const {
  const bridge::ConnectionFacts facts = connection_facts(request, route);
  if (route.kind == route::RouteKind::CgiScript) {
    return bridge::build_cgi_script_env(request, facts, context_.passenv, route.file_path);
  }
  return bridge::build_child_env(request, facts, context_.passenv);
}

void HttpExchange::ask_auth_program(const http::Request& request, route::Route route, char* rest,
                                    std::size_t rest_size) {
  auto pending = std::make_unique<PendingAnswer>();
  pending->route = std::move(route);
  pending->early_bytes.assign(rest, rest_size);
  std::vector<std::string> env = auth_environment(request, pending->route);
  AuthCheck::Owner& owner = *this;
  auth_ = std::make_unique<AuthCheck>(context_, owner, log_fields_);
  pending_ = std::move(pending);
  phase_ = Phase::Authorizing;
  // Nothing more is read until the program has answered.
  stream_.pause_reading(ClientStream::kHeldForProgram);
  const int error = auth_->start(stream_.loop(), context_.auth_program, std::move(env), context_.config->auth_timeout_ms);
  if (error == 0) return;
  auth_.reset();
  pending_.reset();
  stream_.resume_reading(ClientStream::kHeldForProgram);
  if (error == EAGAIN) {
    log::write(LogLevel::Error, "http", log_fields_, "Max of possible forks already active, auth program not run");
    refuse(http::Refusal::ForkLimit, {}, context_.http_headers);
  } else {
    refuse(http::Refusal::ShortOfResources);
  }
}

void HttpExchange::on_auth_decided(bridge::AuthVerdict& verdict) noexcept {
  std::unique_ptr<PendingAnswer> pending = std::move(pending_);
  if (!pending || stream_.closed()) return;
  stream_.resume_reading(ClientStream::kHeldForProgram);
  if (!verdict.allowed) {
    send_auth_refusal(verdict);
    return;
  }
  try {
    auth_variables_ = std::move(verdict.environment);
    for (const auto& [name, value] : auth_variables_) {
      if (name == "REMOTE_USER") log::append_field(log_fields_, "user", value);
    }
    phase_ = Phase::ReadingRequest;  // no longer Authorizing; answer() sets its own phase
    answer(parser_->request(), pending->route, pending->early_bytes.data(), pending->early_bytes.size());
  } catch (const std::bad_alloc&) {
    refuse(http::Refusal::ShortOfResources);
  }
}

void HttpExchange::send_auth_refusal(bridge::AuthVerdict& verdict) noexcept {
  const http::Refusal refusal = auth_->timed_out() ? http::Refusal::AuthTimeout : http::Refusal::AuthRefused;
  log::write(LogLevel::Access, "http", log_fields_,
             "Refused by the auth program with status " + std::to_string(verdict.status));
  if (verdict.status == http::refusal_info(refusal).status && verdict.headers.empty() && verdict.body.empty()) {
    refuse(refusal, {}, context_.http_headers);
    return;
  }
  ++context_.metrics.refusals[static_cast<std::size_t>(refusal)];
  try {
    std::vector<http::Header> headers = context_.http_headers;
    headers.insert(headers.end(), verdict.headers.begin(), verdict.headers.end());
    respond_and_close(verdict.status, verdict.body, headers);
  } catch (const std::bad_alloc&) {
    respond_and_close(verdict.status, {});
  }
}

void HttpExchange::on_auth_closed() noexcept {
  auth_closed_ = true;
  report_idle_when_done();
}

void HttpExchange::add_auth_variables(std::vector<std::string>& env) const {
  for (const auto& [name, value] : auth_variables_) {
    const std::string prefix = name + "=";
    auto same_name = [&](const std::string& entry) { return entry.compare(0, prefix.size(), prefix) == 0; };
    const auto found = std::find_if(env.begin(), env.end(), same_name);
    if (found != env.end()) {
      *found = prefix + value;
    } else {
      env.push_back(prefix + value);
    }
  }
}

}  // namespace wsbridge::net
