#include "net/broker_connection.h"

#include <hiredis/adapters/libuv.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include <algorithm>

#include "log/logger.h"
#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {
using log::LogLevel;
}  // namespace

BrokerConnection::BrokerConnection(Owner& owner, std::string role, std::string host, int port, int db,
                                   bool pinged) noexcept
    : owner_(owner), role_(std::move(role)), host_(std::move(host)), port_(port), db_(db), pinged_(pinged) {}

void BrokerConnection::start(uv_loop_t* loop) noexcept {
  loop_ = loop;
  uv_timer_init(loop, &retry_timer_);
  retry_timer_.data = this;
  connect();
}

void BrokerConnection::connect() noexcept {
  // hiredis resolves a host name with a blocking getaddrinfo: an address
  // (or a name in /etc/hosts) keeps that off the network.
  redisAsyncContext* context = redisAsyncConnect(host_.c_str(), port_);
  if (context == nullptr || context->err != 0) {
    say_lost(std::string("connection to ") + host_ + ":" + std::to_string(port_) + " failed (" +
             (context != nullptr ? context->errstr : "out of memory") + "); retrying");
    if (context != nullptr) redisAsyncFree(context);
    schedule_retry();
    return;
  }
  context->data = this;
  redisLibuvAttach(context, loop_);
  redisAsyncSetConnectCallback(context, &BrokerConnection::on_connect_callback);
  redisAsyncSetDisconnectCallback(context, &BrokerConnection::on_disconnect_callback);
  // The database is chosen first: every later command of this connection
  // comes after it. (Pub/Sub channels do not depend on it.)
  if (db_ != 0) redisAsyncCommand(context, nullptr, nullptr, "SELECT %d", db_);
  context_ = context;
  // The connect's bound; once up, the same timer sends the PINGs.
  uv_timer_start(&retry_timer_, &BrokerConnection::on_retry_timer, kBrokerConnectTimeoutMs, kBrokerPingMs);
}

void BrokerConnection::say_lost(const std::string& why) noexcept {
  if (loss_said_) return;
  loss_said_ = true;
  log::write(LogLevel::Error, "broker", "", "Room broker " + role_ + " " + why);
}

void BrokerConnection::on_connect_callback(const redisAsyncContext* context, int status) {
  static_cast<BrokerConnection*>(context->data)->on_connected(status);
}

void BrokerConnection::on_disconnect_callback(const redisAsyncContext* context, int status) {
  static_cast<BrokerConnection*>(context->data)->on_disconnected(status);
}

void BrokerConnection::on_connected(int status) noexcept {
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback.
    say_lost("connection to " + host_ + ":" + std::to_string(port_) + " failed (" + context_->errstr +
             "); retrying");
    context_ = nullptr;
    schedule_retry();
    return;
  }
  up_ = true;
  answered_at_ms_ = uv_now(loop_);
  ping_in_flight_ = false;
  retry_ms_ = kBrokerRetryFirstMs;
  if (ever_up_ || loss_said_) {
    log::write(LogLevel::Info, "broker", "", "Room broker " + role_ + " connection restored");
  } else {
    log::write(LogLevel::Info, "broker", "",
               "Room broker " + role_ + " connected to " + host_ + ":" + std::to_string(port_));
  }
  ever_up_ = true;
  loss_said_ = false;
  owner_.on_broker_connected(*this);
}

void BrokerConnection::on_disconnected(int status) noexcept {
  // hiredis frees the context after this callback.
  if (closed_ || dropping_) return;
  const bool was_up = up_;
  up_ = false;
  context_ = nullptr;
  say_lost(std::string("connection lost") + (status == REDIS_OK ? "" : " (error)") + "; reconnecting");
  if (was_up) owner_.on_broker_lost(*this);
  schedule_retry();
}

void BrokerConnection::drop() noexcept {
  if (closed_ || context_ == nullptr) return;
  const bool was_up = up_;
  redisAsyncContext* context = context_;
  context_ = nullptr;
  up_ = false;
  dropping_ = true;
  redisAsyncFree(context);  // pending callbacks hear a null reply
  dropping_ = false;
  say_lost(was_up ? "connection lost (no answer); reconnecting"
                  : "connection to " + host_ + ":" + std::to_string(port_) + " failed (no answer); retrying");
  if (was_up) owner_.on_broker_lost(*this);
  schedule_retry();
}

void BrokerConnection::on_pong(redisAsyncContext* context, void* reply, void*) {
  auto* connection = static_cast<BrokerConnection*>(context->data);
  if (reply == nullptr || connection->context_ != context) return;
  connection->ping_in_flight_ = false;
  connection->answered_at_ms_ = uv_now(connection->loop_);
}

void BrokerConnection::schedule_retry() noexcept {
  if (closed_) return;
  uv_timer_start(&retry_timer_, &BrokerConnection::on_retry_timer, retry_ms_, 0);
  retry_ms_ = std::min(retry_ms_ * 2, kBrokerRetryMostMs);
}

void BrokerConnection::on_retry_timer(uv_timer_t* timer) noexcept {
  auto* connection = static_cast<BrokerConnection*>(timer->data);
  if (connection->closed_) return;
  if (connection->context_ == nullptr) {
    connection->connect();  // the backoff is over
  } else if (!connection->up_) {
    connection->drop();  // the connect did not complete in time
  } else if (!connection->pinged_) {
    uv_timer_stop(timer);
  } else if (connection->ping_in_flight_ &&
             uv_now(timer->loop) - connection->answered_at_ms_ >= kBrokerDeadMs) {
    connection->drop();
  } else if (!connection->ping_in_flight_) {
    connection->ping_in_flight_ = true;
    redisAsyncCommand(connection->context_, &BrokerConnection::on_pong, nullptr, "PING");
  }
}

void BrokerConnection::close() noexcept {
  if (closed_ || loop_ == nullptr) return;
  closed_ = true;
  if (context_ != nullptr) {
    redisAsyncContext* context = context_;
    context_ = nullptr;
    up_ = false;
    // Frees at once: pending callbacks hear a null reply now.
    redisAsyncFree(context);
  }
  uv_timer_stop(&retry_timer_);
  uv_close(as_handle(&retry_timer_), [](uv_handle_t* handle) {
    static_cast<BrokerConnection*>(handle->data)->owner_.on_part_closed();
  });
}

}  // namespace wsbridge::net
