#include "wsbridge/http/request_parser.h"

#include <llhttp.h>

#include <algorithm>
#include <cstring>

#include "wsbridge/http/token.h"

namespace wsbridge::http {
namespace {

std::string_view trim_ows(std::string_view value) noexcept {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

bool is_alpha(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }

// Splits the request-target into path and query. Origin-form ("/a?b") is
// split at the first '?'. For absolute-form ("http://host/a?b", which
// HTTP/1.1 servers must accept, RFC 9112 §3.2.2) the scheme and authority are
// skipped first, as Go's url.ParseRequestURI does, so routing sees "/a"; a
// bare "http://host" has an empty path, which ServeMux redirects to "/".
void split_target(Request& request) {
  std::string_view rest = request.target;
  const std::size_t scheme_end = rest.find("://");
  if (!rest.empty() && rest.front() != '/' && scheme_end != std::string_view::npos && scheme_end > 0 &&
      is_alpha(rest.front())) {
    const std::size_t path_start = rest.find_first_of("/?", scheme_end + 3);
    rest = path_start == std::string_view::npos ? std::string_view{} : rest.substr(path_start);
  }
  const std::size_t question = rest.find('?');
  if (question == std::string_view::npos) {
    request.path.assign(rest.data(), rest.size());
    request.query.clear();
    request.has_query = false;
  } else {
    request.path.assign(rest.data(), question);
    const std::string_view query = rest.substr(question + 1);
    request.query.assign(query.data(), query.size());
    request.has_query = true;
  }
}

// llhttp knows no method longer than 11 bytes ("UNSUBSCRIBE"), so a bad
// method is always detected within this many bytes.
constexpr std::size_t kMethodPrefix = 32;

}  // namespace

struct RequestParser::Impl {
  llhttp_t parser{};
  llhttp_settings_t settings{};
  Request* request = nullptr;
  ParserLimits limits;
  std::string field;              // header name being accumulated across callbacks
  std::string value;              // header value being accumulated across callbacks
  bool in_field = false;          // inside a header name (its bytes may arrive in pieces)
  std::size_t header_count = 0;
  std::size_t head_bytes = 0;     // bytes of the head seen so far, for the 431 limit
  std::string prefix;             // the first bytes fed, only to classify a bad method
  int limit_status = 0;           // set by a callback that refused the request
  std::string limit_reason;
  bool headers_done = false;
  bool finished = false;          // Complete or Error was returned

  static Impl& from(llhttp_t* parser) noexcept { return *static_cast<Impl*>(parser->data); }

  int refuse(int status, const char* reason) {
    limit_status = status;
    limit_reason = reason;
    return HPE_USER;
  }

  static int on_url(llhttp_t* parser, const char* at, std::size_t length) {
    Impl& self = from(parser);
    if (self.request->target.size() + length > self.limits.max_target_bytes) {
      return self.refuse(414, "request target too long");
    }
    self.request->target.append(at, length);
    return 0;
  }

  static int on_version_complete(llhttp_t* parser) {
    Impl& self = from(parser);
    // Only HTTP/1.x is spoken here; Go's server answers other versions with
    // 505 too ("unsupported protocol version").
    if (parser->http_major != 1) return self.refuse(505, "unsupported protocol version");
    return 0;
  }

  static int on_header_field(llhttp_t* parser, const char* at, std::size_t length) {
    Impl& self = from(parser);
    if (!self.in_field) {
      self.in_field = true;
      if (++self.header_count > self.limits.max_headers) return self.refuse(431, "too many header fields");
      self.field.clear();
      self.value.clear();
    }
    self.field.append(at, length);
    return 0;
  }

  static int on_header_field_complete(llhttp_t* parser) {
    Impl& self = from(parser);
    self.in_field = false;
    // llhttp 8.1 lets spaces into a name ("X Y: a", "X : a"). RFC 9112 §5.1
    // says to reject those with 400, and Go's server (websocketd) does: a
    // proxy might read the name differently, and "X : a" would otherwise
    // become an HTTP_X_ variable.
    // An empty name (": v") is no header at all; Go refuses it too.
    if (self.field.empty()) return self.refuse(400, "invalid header name");
    for (const char c : self.field) {
      if (!is_token_char(c)) return self.refuse(400, "invalid header name");
    }
    return 0;
  }

  static int on_header_value(llhttp_t* parser, const char* at, std::size_t length) {
    from(parser).value.append(at, length);
    return 0;
  }

  static int on_header_value_complete(llhttp_t* parser) {
    Impl& self = from(parser);
    const std::string_view trimmed = trim_ows(self.value);
    self.request->headers.push_back(Header{std::move(self.field), std::string(trimmed)});
    self.field.clear();
    self.value.clear();
    return 0;
  }

  static int on_headers_complete(llhttp_t* parser) {
    Impl& self = from(parser);
    // HTTP/0.9 ("GET /" with no version) reaches here without a version
    // callback; only 1.x is spoken.
    if (parser->http_major != 1) return self.refuse(505, "unsupported protocol version");
    Request& request = *self.request;
    request.method = llhttp_method_name(static_cast<llhttp_method_t>(parser->method));
    request.http_major = parser->http_major;
    request.http_minor = parser->http_minor;
    split_target(request);
    self.headers_done = true;
    // Stop right here, whatever the request is: what follows the blank line
    // (a body, or the client's first WebSocket frames) is the caller's, and
    // llhttp must not consume or interpret it.
    return HPE_PAUSED;
  }
};

RequestParser::RequestParser(ParserLimits limits) : impl_(std::make_unique<Impl>()) {
  Impl& impl = *impl_;
  impl.request = &request_;
  impl.limits = limits;
  llhttp_settings_init(&impl.settings);
  impl.settings.on_url = &Impl::on_url;
  impl.settings.on_version_complete = &Impl::on_version_complete;
  impl.settings.on_header_field = &Impl::on_header_field;
  impl.settings.on_header_field_complete = &Impl::on_header_field_complete;
  impl.settings.on_header_value = &Impl::on_header_value;
  impl.settings.on_header_value_complete = &Impl::on_header_value_complete;
  impl.settings.on_headers_complete = &Impl::on_headers_complete;
  // Lenient flags stay off (llhttp's default): bare-LF line endings, a lone
  // CR, Content-Length together with Transfer-Encoding are all rejected —
  // each is a request-smuggling vector behind a proxy. Obsolete line folding
  // is still accepted and joined with the space that follows the CRLF, as
  // Go's textproto reader (and so websocketd) does.
  llhttp_init(&impl.parser, HTTP_REQUEST, &impl.settings);
  impl.parser.data = &impl;
}

RequestParser::~RequestParser() = default;

RequestParser::Status RequestParser::feed(const char* data, std::size_t size, std::size_t& consumed) {
  consumed = 0;
  Impl& impl = *impl_;
  if (impl.finished) return error_status_ != 0 ? Status::Error : Status::Complete;

  // Give llhttp no more than the head may still take, so the limit holds
  // however the bytes are split and memory stays bounded by max_head_bytes.
  const std::size_t allowance = impl.limits.max_head_bytes - impl.head_bytes;
  const std::size_t chunk = size < allowance ? size : allowance;
  if (impl.prefix.size() < kMethodPrefix) {
    impl.prefix.append(data, std::min(chunk, kMethodPrefix - impl.prefix.size()));
  }
  const llhttp_errno_t err = llhttp_execute(&impl.parser, data, chunk);

  if (err == HPE_OK) {
    consumed = chunk;
    impl.head_bytes += chunk;
    if (impl.head_bytes >= impl.limits.max_head_bytes) {
      // The head did not end within the limit, so it is longer than allowed.
      impl.finished = true;
      error_status_ = 431;
      error_reason_ = "request head too large";
      return Status::Error;
    }
    return Status::NeedMore;
  }

  impl.finished = true;
  const char* stop = llhttp_get_error_pos(&impl.parser);
  consumed = stop != nullptr && stop >= data && stop <= data + chunk ? static_cast<std::size_t>(stop - data) : chunk;

  if (err == HPE_PAUSED && impl.headers_done) return Status::Complete;

  if (impl.limit_status != 0) {
    error_status_ = impl.limit_status;
    error_reason_ = impl.limit_reason;
    return Status::Error;
  }
  error_reason_ = llhttp_get_error_reason(&impl.parser) != nullptr ? llhttp_get_error_reason(&impl.parser) : "";
  switch (err) {
    case HPE_PAUSED_H2_UPGRADE:
      // "PRI * HTTP/2.0": the HTTP/2 connection preface (prior knowledge).
      error_status_ = 505;
      error_reason_ = "HTTP/2 is not supported";
      break;
    case HPE_INVALID_VERSION:
      // llhttp says "Invalid HTTP version" for well-formed digits it does
      // not support ("HTTP/3.0", "HTTP/1.2"): a version we do not speak. A
      // non-digit ("Invalid major/minor version") is a malformed line.
      error_status_ = error_reason_ == "Invalid HTTP version" ? 505 : 400;
      break;
    case HPE_INVALID_METHOD: {
      // llhttp stops at the first byte that no known method continues with.
      // If that byte and all before it are token characters, the client sent
      // a well-formed method we do not implement (501, RFC 9110 §9.1);
      // otherwise it is not HTTP at all (400). Judging by that one position
      // keeps the answer the same however the input was split.
      const std::size_t error_offset = impl.head_bytes + consumed;
      bool token = error_offset < impl.prefix.size();
      for (std::size_t i = 0; token && i <= error_offset; ++i) token = is_token_char(impl.prefix[i]);
      error_status_ = token ? 501 : 400;
      break;
    }
    default:
      error_status_ = 400;
      break;
  }
  return Status::Error;
}

}  // namespace wsbridge::http
