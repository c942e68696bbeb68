// What to answer for a file (or an in-memory page) given the request's
// conditional and range headers: 200, 206, 304 or 416, with the validator
// headers. Pure; the caller opens the file and sends the bytes.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::http {

struct FileFacts {
  std::uint64_t size = 0;
  std::int64_t mtime_seconds = 0;      // Unix time
  std::int64_t mtime_nanoseconds = 0;  // 0..999999999, for the ETag
  std::string_view content_type;
};

struct FilePlan {
  int status = 200;              // 200, 206, 304 or 416
  std::vector<Header> headers;   // Content-Type, Last-Modified, ETag, Accept-Ranges, Content-Range
  std::uint64_t offset = 0;      // first byte to send
  std::uint64_t length = 0;      // bytes to send (Content-Length)
  bool send_body = false;        // false for HEAD, 304 and 416
};

// RFC 9110 §13: If-None-Match (weak comparison) before If-Modified-Since,
// then Range (one "bytes=" range; several ranges are answered with the whole
// file, which the RFC allows) guarded by If-Range. HEAD gets GET's headers.
FilePlan plan_file_response(const Request& request, const FileFacts& facts);

// The strong validator for a file: its size and modification time in hex.
std::string make_etag(const FileFacts& facts);

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT").
std::string format_http_date(std::int64_t unix_seconds);
// Accepts the three forms RFC 9110 §5.6.7 requires recipients to read.
std::optional<std::int64_t> parse_http_date(std::string_view text);

}  // namespace wsbridge::http
