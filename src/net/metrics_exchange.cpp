#include "net/metrics_exchange.h"

#include "net/metrics_endpoint.h"
#include "wsbridge/metrics/exposition.h"

namespace wsbridge::net {
namespace {

// The request line's method and path (without a query), or false when the
// line is not "METHOD TARGET HTTP/x.y".
bool parse_request_line(const std::string& head, std::string& method, std::string& path) {
  std::size_t end = head.find_first_of("\r\n");
  std::string line = head.substr(0, end);
  std::size_t first_space = line.find(' ');
  std::size_t second_space = line.find(' ', first_space == std::string::npos ? 0 : first_space + 1);
  if (first_space == std::string::npos || second_space == std::string::npos) return false;
  if (line.compare(second_space + 1, 5, "HTTP/") != 0) return false;
  method = line.substr(0, first_space);
  std::string target = line.substr(first_space + 1, second_space - first_space - 1);
  path = target.substr(0, target.find('?'));
  return !method.empty() && !path.empty();
}

}  // namespace

MetricsExchange::MetricsExchange(uv_loop_t* loop, uv_stream_t* listener, MetricsEndpoint& endpoint)
    : endpoint_(endpoint) {
  socket_.data = this;
  timeout_.data = this;
  write_request_.data = this;
  uv_tcp_init(loop, &socket_);
  ++open_handles_;
  uv_timer_init(loop, &timeout_);
  ++open_handles_;
  if (uv_accept(listener, reinterpret_cast<uv_stream_t*>(&socket_)) != 0 ||
      uv_read_start(reinterpret_cast<uv_stream_t*>(&socket_), &MetricsExchange::on_alloc,
                    &MetricsExchange::on_read) != 0) {
    close();
    return;
  }
  uv_timer_start(&timeout_, &MetricsExchange::on_timeout, kRequestTimeoutMs, 0);
}

void MetricsExchange::close() noexcept {
  if (closing_) return;
  closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(&socket_), &MetricsExchange::on_handle_closed);
  uv_close(reinterpret_cast<uv_handle_t*>(&timeout_), &MetricsExchange::on_handle_closed);
}

void MetricsExchange::on_handle_closed(uv_handle_t* handle) noexcept {
  auto* self = static_cast<MetricsExchange*>(handle->data);
  // The last of the two tells the endpoint, which deletes the exchange.
  if (--self->open_handles_ == 0) self->endpoint_.on_exchange_finished(*self);
}

void MetricsExchange::on_alloc(uv_handle_t* handle, std::size_t /*suggested*/, uv_buf_t* buf) noexcept {
  auto* self = static_cast<MetricsExchange*>(handle->data);
  *buf = uv_buf_init(self->read_buffer_, sizeof self->read_buffer_);
}

void MetricsExchange::on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept {
  auto* self = static_cast<MetricsExchange*>(stream->data);
  if (nread == 0) return;
  if (nread < 0) {
    self->close();  // gone, or ended before a whole request head
    return;
  }
  self->request_.append(buf->base, static_cast<std::size_t>(nread));
  if (self->request_.find("\r\n\r\n") != std::string::npos || self->request_.find("\n\n") != std::string::npos) {
    self->answer();
  } else if (self->request_.size() > kMaxRequestHead) {
    self->respond("431 Request Header Fields Too Large", "", "431 Request Header Fields Too Large\n", false);
  }
}

void MetricsExchange::on_timeout(uv_timer_t* timer) noexcept {
  static_cast<MetricsExchange*>(timer->data)->close();
}

void MetricsExchange::answer() noexcept {
  std::string method, path;
  if (!parse_request_line(request_, method, path)) {
    respond("400 Bad Request", "", "400 Bad Request\n", false);
    return;
  }
  const bool head_only = method == "HEAD";
  if (method != "GET" && !head_only) {
    respond("405 Method Not Allowed", "Allow: GET, HEAD\r\n", "405 Method Not Allowed\n", false);
    return;
  }
  if (path != "/metrics") {
    respond("404 Not Found", "", "404 Not Found: the metrics are at /metrics\n", head_only);
    return;
  }
  std::string body;
  try {
    body = endpoint_.collect();
  } catch (const std::exception&) {
    respond("503 Service Unavailable", "", "503 Service Unavailable: out of memory\n", head_only);
    return;
  }
  respond("200 OK", std::string("Content-Type: ") + metrics::kExpositionContentType + "\r\n", body, head_only);
}

void MetricsExchange::respond(const std::string& status_line, const std::string& extra_headers,
                              const std::string& body, bool head_only) noexcept {
  if (answered_ || closing_) return;
  answered_ = true;
  uv_read_stop(reinterpret_cast<uv_stream_t*>(&socket_));
  try {
    response_ = "HTTP/1.1 " + status_line + "\r\n";
    if (extra_headers.find("Content-Type:") == std::string::npos) {
      response_ += "Content-Type: text/plain; charset=utf-8\r\n";
    }
    response_ += extra_headers + "Content-Length: " + std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n";
    if (!head_only) response_ += body;
  } catch (const std::exception&) {
    close();
    return;
  }
  uv_buf_t buf = uv_buf_init(response_.data(), static_cast<unsigned>(response_.size()));
  if (uv_write(&write_request_, reinterpret_cast<uv_stream_t*>(&socket_), &buf, 1, &MetricsExchange::on_written) !=
      0) {
    close();
  }
}

void MetricsExchange::on_written(uv_write_t* request, int /*status*/) noexcept {
  // Written or failed: either way the exchange is over. (A write cancelled
  // by close() lands here too, after closing_ was set: close() is a no-op.)
  static_cast<MetricsExchange*>(request->data)->close();
}

}  // namespace wsbridge::net
