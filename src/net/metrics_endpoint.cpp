#include "net/metrics_endpoint.h"

#include "log/logger.h"
#include "net/metrics_exchange.h"

namespace wsbridge::net {

MetricsEndpoint::MetricsEndpoint(uv_loop_t* loop, Collect collect) : loop_(loop), collect_(std::move(collect)) {}

MetricsEndpoint::~MetricsEndpoint() = default;

bool MetricsEndpoint::listen(const ListenAddress& address, int port, std::string& error) {
  listener_.data = this;
  if (start_listener(loop_, &listener_, address, port, &MetricsEndpoint::on_connection, error) != 0) return false;
  listening_ = true;
  return true;
}

void MetricsEndpoint::close() noexcept {
  if (listening_) {
    listening_ = false;
    uv_close(reinterpret_cast<uv_handle_t*>(&listener_), nullptr);
  }
  for (MetricsExchange* exchange = first_exchange_; exchange != nullptr; exchange = exchange->next) exchange->close();
}

void MetricsEndpoint::on_connection(uv_stream_t* listener, int status) noexcept {
  auto* self = static_cast<MetricsEndpoint*>(listener->data);
  if (status < 0) {
    log::write(log::LogLevel::Error, "metrics", "", std::string("Accept failed: ") + uv_strerror(status));
    return;
  }
  self->accept_one();
}

void MetricsEndpoint::accept_one() noexcept {
  auto* exchange = new (std::nothrow) MetricsExchange(loop_, reinterpret_cast<uv_stream_t*>(&listener_), *this);
  if (exchange == nullptr) return;  // the connection waits in the backlog for the next try
  exchange->next = first_exchange_;
  if (first_exchange_ != nullptr) first_exchange_->previous = exchange;
  first_exchange_ = exchange;
  // Over the limit: this one is accepted (so it does not wait in the
  // backlog forever) and closed unanswered.
  if (++exchange_count_ > kMaxExchanges) exchange->close();
}

void MetricsEndpoint::on_exchange_finished(MetricsExchange& exchange) noexcept {
  if (exchange.previous != nullptr) exchange.previous->next = exchange.next;
  if (exchange.next != nullptr) exchange.next->previous = exchange.previous;
  if (first_exchange_ == &exchange) first_exchange_ = exchange.next;
  --exchange_count_;
  delete &exchange;
}

}  // namespace wsbridge::net
