#include "wsbridge/bridge/cgi_response.h"

namespace wsbridge::bridge {
namespace {

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

bool is_token(std::string_view name) noexcept {
  if (name.empty()) return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    (c != '\0' && std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos);
    if (!ok) return false;
  }
  return true;
}

}  // namespace

CgiResponseParser::Status CgiResponseParser::fail(std::string why) {
  failed_ = true;
  error_ = std::move(why);
  return Status::Error;
}

CgiResponseParser::Status CgiResponseParser::parse_line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return fail("a header line has no ':'");
  const std::string_view name = line.substr(0, colon);
  const std::string_view value = trim(line.substr(colon + 1));
  if (!is_token(name)) return fail("a header name is not a valid token");
  for (const char c : value) {
    if (c == '\r' || c == '\0') return fail("a header value holds a CR or NUL");
  }
  if (http::iequals(name, "Status")) {
    // "Status: 404 Not Found" or just "Status: 404".
    if (value.size() < 3 || value.substr(0, 3).find_first_not_of("0123456789") != std::string_view::npos ||
        (value.size() > 3 && value[3] != ' ')) {
      return fail("the Status line is not \"NNN reason\"");
    }
    const int code = (value[0] - '0') * 100 + (value[1] - '0') * 10 + (value[2] - '0');
    if (code < 200 || code > 599) return fail("the Status code is outside 200-599");
    status_ = code;
    reason_ = std::string(trim(value.substr(3)));
    return Status::NeedMore;
  }
  headers_.push_back({std::string(name), std::string(value)});
  return Status::NeedMore;
}

CgiResponseParser::Status CgiResponseParser::complete() {
  finished_ = true;
  if (headers_.empty() && status_ == 0) return fail("the script sent no headers");
  bool has_location = false;
  bool has_type = false;
  for (const http::Header& header : headers_) {
    has_location = has_location || http::iequals(header.name, "Location");
    has_type = has_type || http::iequals(header.name, "Content-Type");
  }
  // RFC 3875 §6.2.3-4, as Go's net/http/cgi (websocketd's) applies it.
  if (status_ == 0 && has_location) status_ = 302;
  if (status_ == 0 && !has_type) return fail("the script sent neither Content-Type, Location nor Status");
  if (status_ == 0) status_ = 200;
  return Status::Done;
}

CgiResponseParser::Status CgiResponseParser::feed(std::string_view data, std::size_t& consumed) {
  consumed = 0;
  if (failed_) return Status::Error;
  if (finished_) return Status::Done;
  // Each pass takes one line; the data is finite, so is the loop.
  while (consumed < data.size()) {
    const std::string_view rest = data.substr(consumed);
    const std::size_t newline = rest.find('\n');
    const std::size_t take = newline == std::string_view::npos ? rest.size() : newline + 1;
    seen_ += take;
    if (seen_ > kMaxHeaderBytes) {
      return fail("the header block is longer than " + std::to_string(kMaxHeaderBytes) + " bytes");
    }
    pending_.append(rest.data(), take);
    consumed += take;
    if (newline == std::string_view::npos) return Status::NeedMore;
    std::string_view line(pending_);
    line.remove_suffix(1);  // the '\n'
    if (line.empty() || line == "\r") {
      pending_.clear();
      return complete();
    }
    const Status status = parse_line(line);
    pending_.clear();
    if (status == Status::Error) return status;
  }
  return Status::NeedMore;
}

CgiResponseParser::Status CgiResponseParser::finish() {
  if (failed_) return Status::Error;
  if (finished_) return Status::Done;
  return fail(seen_ == 0 ? "the script wrote nothing" : "the script's output ended inside its header block");
}

}  // namespace wsbridge::bridge
