// Sends one file under --staticdir: the head from http::plan_file_response
// (200/206/304/416 with validators), then the body in bounded chunks read
// with pread, never more than the client's write queue can hold above its
// high-water mark. The router has already confined the path to the folder.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "net/response_sink.h"
#include "wsbridge/http/request.h"

namespace wsbridge::net {

class StaticResponder {
 public:
  // Queues the head (or a complete error response) for `request`. Returns a
  // responder while body bytes remain to be sent (call pump() now and
  // whenever the client drains); nullptr when the response is complete and
  // end_response() was called.
  static std::unique_ptr<StaticResponder> start(const http::Request& request, const std::string& path,
                                                const std::vector<http::Header>& extra_headers,
                                                ResponseSink& sink) noexcept;

  // Reads and queues chunks until the client is backlogged or the body is
  // done (then end_response()). `scratch` is the loop's read buffer.
  // Returns false once this responder has nothing more to do.
  bool pump(char* scratch, std::size_t scratch_size) noexcept;

  ~StaticResponder();
  StaticResponder(const StaticResponder&) = delete;
  StaticResponder& operator=(const StaticResponder&) = delete;

 private:
  StaticResponder(int fd, std::uint64_t offset, std::uint64_t length, ResponseSink& sink) noexcept
      : fd_(fd), offset_(offset), remaining_(length), sink_(sink) {}

  int fd_;
  std::uint64_t offset_;
  std::uint64_t remaining_;
  ResponseSink& sink_;
  bool done_ = false;
};

}  // namespace wsbridge::net
