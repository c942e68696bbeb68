// llhttp wrapper that reads one request head with bounded size. It stops at
// the end of the header block: for an upgrade, the bytes after it are the
// first WebSocket bytes and belong to the caller (never dropped).
#pragma once
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wsbridge/http/request.h"

namespace wsbridge::http {

struct ParserLimits {
  std::size_t max_head_bytes = 16 * 1024;   // request line + all headers → 431 over it
  std::size_t max_headers = 100;            // header count → 431 over it
  std::size_t max_target_bytes = 8 * 1024;  // request-target → 414 over it
};

class RequestParser {
 public:
  enum class Status { NeedMore, Complete, Error };

  explicit RequestParser(ParserLimits limits = {});
  ~RequestParser();
  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Feeds bytes. `consumed` is set to how many bytes belong to the request
  // head; on Complete, data[consumed, size) is what followed it (a request
  // body or the first WebSocket frames). After Complete or Error, do not feed again.
  Status feed(const char* data, std::size_t size, std::size_t& consumed);

  Request& request() noexcept { return request_; }
  const Request& request() const noexcept { return request_; }
  // On Error: the HTTP status to answer with (400, 414, 431, 501, 505) and why.
  int error_status() const noexcept { return error_status_; }
  const std::string& error_reason() const noexcept { return error_reason_; }

  struct Impl;  // llhttp state and callbacks; defined in request_parser.cpp

 private:
  std::unique_ptr<Impl> impl_;
  Request request_;
  int error_status_ = 0;
  std::string error_reason_;
};

}  // namespace wsbridge::http
