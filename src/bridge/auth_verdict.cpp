// Allowed: variable lines. Refused: an optional CGI header block, read by
// the same parser the CGI responder uses, so an auth program answers the
// way a CGI script would.
#include "wsbridge/bridge/auth_verdict.h"

#include <strings.h>
#include <sys/wait.h>

#include <cctype>

#include "wsbridge/bridge/cgi_response.h"

namespace wsbridge::bridge {
namespace {

bool is_variable_name(std::string_view name) {
  if (name == "REMOTE_USER") return true;
  constexpr std::string_view kPrefix = "AUTH_";
  if (name.size() <= kPrefix.size() || name.substr(0, kPrefix.size()) != kPrefix) return false;
  for (const char c : name.substr(kPrefix.size())) {
    if (!(std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_')) {
      return false;
    }
  }
  return true;
}

bool has_control_character(std::string_view value) {
  for (const char c : value) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7F) return true;
  }
  return false;
}

void read_variables(std::string_view output, AuthVerdict& verdict) {
  while (!output.empty()) {
    const std::size_t end = output.find('\n');
    std::string_view line = output.substr(0, end);
    output = end == std::string_view::npos ? std::string_view{} : output.substr(end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) continue;
    const std::size_t equals = line.find('=');
    const std::string_view name = line.substr(0, equals);
    if (equals != std::string_view::npos && is_variable_name(name) && !has_control_character(line.substr(equals + 1))) {
      verdict.environment.emplace_back(std::string(name), std::string(line.substr(equals + 1)));
    } else {
      verdict.ignored.emplace_back(line);
    }
  }
}

// The response's framing is the server's to write, whatever the program said.
bool is_framing_header(const std::string& name) {
  for (const char* framing : {"Content-Length", "Transfer-Encoding", "Connection"}) {
    if (strcasecmp(name.c_str(), framing) == 0) return true;
  }
  return false;
}

void read_refusal(std::string_view output, AuthVerdict& verdict) {
  if (output.empty()) return;  // a plain 403
  CgiResponseParser parser;
  std::size_t consumed = 0;
  CgiResponseParser::Status status = parser.feed(output, consumed);
  if (status == CgiResponseParser::Status::NeedMore) status = parser.finish();
  if (status != CgiResponseParser::Status::Done) {
    verdict.ignored.push_back("no usable header block (" + parser.error() + "): answered 403");
    return;
  }
  // A refusal must not read as a success: 1xx and 2xx become 403.
  if (parser.status() < 300) {
    verdict.ignored.push_back("refused with status " + std::to_string(parser.status()) + ": answered 403");
    return;
  }
  verdict.status = parser.status();
  verdict.reason = parser.reason();
  for (const http::Header& header : parser.headers()) {
    if (!is_framing_header(header.name)) verdict.headers.push_back(header);
  }
  verdict.body = std::string(output.substr(consumed));
}

}  // namespace

AuthVerdict read_auth_verdict(int wait_status, std::string_view output) {
  AuthVerdict verdict;
  verdict.allowed = WIFEXITED(wait_status) && WEXITSTATUS(wait_status) == 0;
  if (verdict.allowed) {
    read_variables(output, verdict);
  } else {
    read_refusal(output, verdict);
  }
  return verdict;
}

}  // namespace wsbridge::bridge
