// --metrics=ADDR:PORT: a plain-HTTP listener of its own, on the main
// thread's loop, that answers GET /metrics with the Prometheus text format.
// Apart from the serving listeners so that metrics are never exposed where
// clients connect by accident, and on the main loop so that a scrape never
// waits behind a busy worker (it reads the workers' counters, which are safe
// to read from any thread).
#pragma once
#include <uv.h>

#include <functional>
#include <memory>
#include <string>

#include "net/listener.h"

namespace wsbridge::net {

class MetricsExchange;

class MetricsEndpoint {
 public:
  // Builds the exposition text; called on the main loop for each scrape.
  using Collect = std::function<std::string()>;

  MetricsEndpoint(uv_loop_t* loop, Collect collect);
  ~MetricsEndpoint();
  MetricsEndpoint(const MetricsEndpoint&) = delete;
  MetricsEndpoint& operator=(const MetricsEndpoint&) = delete;

  // Binds and listens. False with `error` set ("listen tcp ...: bind: ...").
  [[nodiscard]] bool listen(const ListenAddress& address, int port, std::string& error);
  // Stops listening and ends the scrapes in progress; the loop can then end.
  void close() noexcept;

  // For MetricsExchange.
  std::string collect() const { return collect_(); }
  void on_exchange_finished(MetricsExchange& exchange) noexcept;

 private:
  // Scrapes at once: a monitoring system needs one or two; more are
  // accepted and closed at once, so a flood costs no memory.
  static constexpr unsigned kMaxExchanges = 8;

  static void on_connection(uv_stream_t* listener, int status) noexcept;
  void accept_one() noexcept;

  uv_loop_t* loop_;
  Collect collect_;
  uv_tcp_t listener_{};
  bool listening_ = false;
  MetricsExchange* first_exchange_ = nullptr;  // intrusive list of live scrapes
  unsigned exchange_count_ = 0;
};

}  // namespace wsbridge::net
