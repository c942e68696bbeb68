#include "net/static_responder.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <new>

#include "wsbridge/http/file_response.h"
#include "wsbridge/http/mime_types.h"
#include "wsbridge/http/response.h"

namespace wsbridge::net {
namespace {

void send_error(ResponseSink& sink, int status, const std::string& body,
                const std::vector<http::Header>& extra_headers) noexcept {
  try {
    const std::string response = http::format_response(status, extra_headers, body);
    sink.send_response_bytes(response.data(), response.size());
  } catch (...) {
  }
  sink.end_response();
}

}  // namespace

std::unique_ptr<StaticResponder> StaticResponder::start(const http::Request& request, const std::string& path,
                                                        const std::vector<http::Header>& extra_headers,
                                                        ResponseSink& sink) noexcept {
  // Open the canonical path the router checked, and look at what was opened
  // (not at the name again), so a file swapped in between is still judged.
  // O_NONBLOCK: if a FIFO were swapped in after the route check, open()
  // must not block the event loop (the fstat check below then refuses it).
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
  if (fd < 0) {
    const int err = errno;
    if (err == EACCES || err == EPERM) {
      send_error(sink, 403, "403 Forbidden: the server is not allowed to read this file\n", extra_headers);
    } else if (err == EMFILE || err == ENFILE || err == ENOMEM) {
      // The file is there (the router saw it); the server is out of
      // resources for now. A 404 would be wrong, and cached as such.
      send_error(sink, 503, std::string("503 Service Unavailable: cannot open the file now (") +
                                std::strerror(err) + ")\n", extra_headers);
    } else {
      send_error(sink, 404, "404 page not found\n", extra_headers);
    }
    return nullptr;
  }
  struct stat info {};
  if (::fstat(fd, &info) != 0 || !S_ISREG(info.st_mode)) {
    ::close(fd);
    send_error(sink, 403, "403 Forbidden: not a regular file\n", extra_headers);
    return nullptr;
  }
  try {
    http::FileFacts facts;
    facts.size = static_cast<std::uint64_t>(info.st_size);
    facts.mtime_seconds = info.st_mtim.tv_sec;
    facts.mtime_nanoseconds = info.st_mtim.tv_nsec;
    facts.content_type = http::mime_type_for(path);
    http::FilePlan plan = http::plan_file_response(request, facts);
    std::vector<http::Header> headers = extra_headers;
    headers.insert(headers.end(), plan.headers.begin(), plan.headers.end());
    if (plan.status == 416) {
      ::close(fd);
      // The body is our message, not the file: its type is text/plain.
      for (auto it = headers.begin(); it != headers.end();) {
        it = http::iequals(it->name, "Content-Type") ? headers.erase(it) : it + 1;
      }
      send_error(sink, 416,
                 "416 Range Not Satisfiable: the file has " + std::to_string(facts.size) + " bytes\n", headers);
      return nullptr;
    }
    // A 304 has no body and so no length; HEAD gets GET's length.
    std::optional<std::uint64_t> length;
    if (plan.status != 304) length = plan.length;
    const std::string head = http::format_response_head(plan.status, headers, length);
    sink.send_response_bytes(head.data(), head.size());
    if (!plan.send_body) {
      ::close(fd);
      sink.end_response();
      return nullptr;
    }
    auto responder = std::unique_ptr<StaticResponder>(new StaticResponder(fd, plan.offset, plan.length, sink));
    return responder;
  } catch (...) {
    ::close(fd);
    sink.abort_response();
    return nullptr;
  }
}

bool StaticResponder::pump(char* scratch, std::size_t scratch_size) noexcept {
  // Bounded per call by the queue's high-water mark: each chunk is at most
  // scratch_size, and the loop stops as soon as the client is behind.
  while (!done_ && remaining_ > 0 && !sink_.response_backlogged()) {
    const std::size_t want = remaining_ < scratch_size ? static_cast<std::size_t>(remaining_) : scratch_size;
    const ssize_t got = ::pread(fd_, scratch, want, static_cast<off_t>(offset_));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) {
      // A read error, or the file shrank under us: the promised length can
      // no longer be met, so the client must see the response cut short.
      done_ = true;
      sink_.abort_response();
      return false;
    }
    offset_ += static_cast<std::uint64_t>(got);
    remaining_ -= static_cast<std::uint64_t>(got);
    sink_.send_response_bytes(scratch, static_cast<std::size_t>(got));
  }
  if (!done_ && remaining_ == 0) {
    done_ = true;
    sink_.end_response();
  }
  return !done_;
}

StaticResponder::~StaticResponder() {
  if (fd_ >= 0) ::close(fd_);
}

}  // namespace wsbridge::net
