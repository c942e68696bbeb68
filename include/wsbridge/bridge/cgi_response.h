// Reads the header block a CGI/1.1 script writes before its body (RFC 3875
// §6): "Name: value" lines ended by LF or CRLF, then a blank line. Feed the
// script's stdout as it arrives; the result is the HTTP status and headers
// to send, or the reason the block is unusable.
#pragma once
#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::bridge {

class CgiResponseParser {
 public:
  // A header block longer than this is refused: the script is not speaking CGI.
  static constexpr std::size_t kMaxHeaderBytes = 64 * 1024;

  enum class Status { NeedMore, Done, Error };

  // Consumes header bytes from `data`. On Done, `consumed` is where the body
  // starts in `data` (the rest is body). After Done or Error, do not feed again.
  Status feed(std::string_view data, std::size_t& consumed);
  // The script's stdout ended: Error unless the block was complete.
  Status finish();

  // On Done: the status to answer with (Status: line; 302 for a Location
  // without one; else 200), its reason phrase if the script gave one, and
  // the other headers in order (Status is not among them).
  int status() const noexcept { return status_; }
  const std::string& reason() const noexcept { return reason_; }
  const std::vector<http::Header>& headers() const noexcept { return headers_; }
  // On Error: what was wrong, for the log and the 502 body.
  const std::string& error() const noexcept { return error_; }

 private:
  Status fail(std::string why);
  Status parse_line(std::string_view line);
  Status complete();

  std::string pending_;  // an incomplete line
  std::size_t seen_ = 0;
  int status_ = 0;
  std::string reason_;
  std::vector<http::Header> headers_;
  std::string error_;
  bool finished_ = false;
  bool failed_ = false;
};

}  // namespace wsbridge::bridge
