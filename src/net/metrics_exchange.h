// One connection to the metrics listener: reads a request head (bounded in
// size and time), answers it once and closes. HTTP/1.0-style on purpose: a
// scrape is one request, so there is no keep-alive state to get wrong.
#pragma once
#include <uv.h>

#include <string>

namespace wsbridge::net {

class MetricsEndpoint;

class MetricsExchange {
 public:
  // Takes a connection pending on `listener`; on failure the exchange
  // closes itself (and tells `endpoint` when its handles are closed).
  MetricsExchange(uv_loop_t* loop, uv_stream_t* listener, MetricsEndpoint& endpoint);
  MetricsExchange(const MetricsExchange&) = delete;
  MetricsExchange& operator=(const MetricsExchange&) = delete;

  // Ends the exchange now (the server is stopping).
  void close() noexcept;

  // The endpoint's intrusive list.
  MetricsExchange* next = nullptr;
  MetricsExchange* previous = nullptr;

 private:
  // A scraper's request head is a few hundred bytes; anything larger or
  // slower is not a scraper.
  static constexpr std::size_t kMaxRequestHead = 8 * 1024;
  static constexpr unsigned kRequestTimeoutMs = 10000;

  static void on_alloc(uv_handle_t* handle, std::size_t suggested, uv_buf_t* buf) noexcept;
  static void on_read(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) noexcept;
  static void on_written(uv_write_t* request, int status) noexcept;
  static void on_timeout(uv_timer_t* timer) noexcept;
  static void on_handle_closed(uv_handle_t* handle) noexcept;
  void answer() noexcept;
  void respond(const std::string& status_line, const std::string& extra_headers, const std::string& body,
               bool head_only) noexcept;

  MetricsEndpoint& endpoint_;
  uv_tcp_t socket_{};
  uv_timer_t timeout_{};
  uv_write_t write_request_{};
  std::string request_;
  std::string response_;
  char read_buffer_[1024];
  int open_handles_ = 0;
  bool answered_ = false;
  bool closing_ = false;
};

}  // namespace wsbridge::net
