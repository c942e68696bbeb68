// Serialises HTTP/1.1 response heads and small complete responses.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::http {

// Escapes & < > " ' for text placed in HTML (bodies that echo a URL).
std::string html_escape(std::string_view text);

// The body Go's http.Redirect writes for a 301 to `location`, escaped.
std::string moved_permanently_body(std::string_view location);

// Standard reason phrase for a status code ("Not Found"); "Unknown" otherwise.
std::string_view reason_phrase(int status) noexcept;

// A complete response: status line, the given headers, Content-Length (and
// Content-Type when body is non-empty and no header set one), "Connection:
// close", blank line, body. Header values with CR or LF are not emitted.
std::string format_response(int status, const std::vector<Header>& headers, std::string_view body,
                            std::string_view content_type = "text/plain; charset=utf-8");

// Only a response head, for bodies sent separately (files, CGI output):
// status line (`reason`, or the standard phrase when empty), the headers
// (checked as format_response checks them; framing headers dropped),
// Content-Length when given, "Connection: close", blank line. Without a
// length the body ends when the connection closes.
std::string format_response_head(int status, const std::vector<Header>& headers,
                                 std::optional<std::uint64_t> content_length, std::string_view reason = {});

// 101 Switching Protocols with Upgrade/Connection/Sec-WebSocket-Accept plus extra headers.
std::string format_switching_protocols(std::string_view accept_key, const std::vector<Header>& extra);

}  // namespace wsbridge::http
