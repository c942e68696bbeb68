#include "wsbridge/http/response.h"

#include "wsbridge/http/request.h"
#include "wsbridge/http/token.h"

namespace wsbridge::http {
namespace {

// A header from configuration (--header-http ...) is emitted only when it
// cannot break the response framing: a CR or LF in it would let a value
// start a new header line or end the head early (response splitting).
bool is_safe_header(const Header& header) noexcept {
  if (header.name.empty()) return false;
  for (const char c : header.name) {
    if (!is_token_char(c)) return false;
  }
  for (const char c : header.value) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

// These describe the message framing, which format_response owns; a second
// Content-Length or a keep-alive from configuration would desynchronise the
// client from what we actually send and do.
bool is_framing_header(std::string_view name) noexcept {
  return iequals(name, "Content-Length") || iequals(name, "Connection") ||
         iequals(name, "Transfer-Encoding");
}

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  out += reason_phrase(status);
  out += "\r\n";
}

void append_header(std::string& out, std::string_view name, std::string_view value) {
  out.append(name.data(), name.size());
  out += ": ";
  out.append(value.data(), value.size());
  out += "\r\n";
}

}  // namespace

std::string html_escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&#34;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string moved_permanently_body(std::string_view location) {
  return "<a href=\"" + html_escape(location) + "\">Moved Permanently</a>.\n";
}

std::string_view reason_phrase(int status) noexcept {
  switch (status) {
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 416: return "Range Not Satisfiable";
    case 426: return "Upgrade Required";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default: return "Unknown";
  }
}

std::string format_response(int status, const std::vector<Header>& headers, std::string_view body,
                            std::string_view content_type) {
  std::string out;
  out.reserve(128 + body.size());
  append_status_line(out, status);
  bool has_content_type = false;
  for (const Header& header : headers) {
    if (!is_safe_header(header) || is_framing_header(header.name)) continue;
    if (iequals(header.name, "Content-Type")) has_content_type = true;
    append_header(out, header.name, header.value);
  }
  if (!body.empty() && !has_content_type && !content_type.empty()) {
    append_header(out, "Content-Type", content_type);
  }
  append_header(out, "Content-Length", std::to_string(body.size()));
  // Every response we produce ends the exchange: the server does not keep
  // plain HTTP connections alive, and saying so lets clients stop waiting.
  append_header(out, "Connection", "close");
  out += "\r\n";
  out.append(body.data(), body.size());
  return out;
}

std::string format_response_head(int status, const std::vector<Header>& headers,
                                 std::optional<std::uint64_t> content_length, std::string_view reason) {
  std::string out;
  out.reserve(256);
  out += "HTTP/1.1 ";
  out += std::to_string(status);
  out += ' ';
  if (reason.empty() || reason.find_first_of("\r\n") != std::string_view::npos) reason = reason_phrase(status);
  out.append(reason.data(), reason.size());
  out += "\r\n";
  for (const Header& header : headers) {
    if (!is_safe_header(header) || is_framing_header(header.name)) continue;
    append_header(out, header.name, header.value);
  }
  if (content_length) append_header(out, "Content-Length", std::to_string(*content_length));
  append_header(out, "Connection", "close");
  out += "\r\n";
  return out;
}

std::string format_switching_protocols(std::string_view accept_key, const std::vector<Header>& extra) {
  std::string out;
  out.reserve(160);
  append_status_line(out, 101);
  // Same three headers, in the same order, as gorilla/websocket's upgrader,
  // which is what websocketd clients have been talking to.
  append_header(out, "Upgrade", "websocket");
  append_header(out, "Connection", "Upgrade");
  append_header(out, "Sec-WebSocket-Accept", accept_key);
  for (const Header& header : extra) {
    // A configured header may not replace or repeat the handshake's own:
    // browsers fail a 101 with two Sec-WebSocket-Accept or a second
    // Connection value, and a body-length header makes no sense on a 101.
    if (!is_safe_header(header) || is_framing_header(header.name) || iequals(header.name, "Upgrade") ||
        iequals(header.name, "Sec-WebSocket-Accept")) {
      continue;
    }
    append_header(out, header.name, header.value);
  }
  out += "\r\n";
  return out;
}

}  // namespace wsbridge::http
