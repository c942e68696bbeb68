// One connection to the room broker (--room-broker's Redis): a hiredis
// asynchronous context driven by the event loop through hiredis's libuv
// adapter. When it cannot connect, or the connection drops, it tries again
// after a backoff that starts at kBrokerRetryFirstMs and doubles up to
// kBrokerRetryMostMs; the loss and the recovery are logged once each, not
// every failed attempt.
//
// hiredis's libuv adapter drops a poll error (libuv reports a refused
// connect as status UV_EBADF and stops the poll, and the adapter returns
// without telling hiredis), and a cut network gives no error at all. So a
// connect that has not completed within kBrokerConnectTimeoutMs is given
// up, and the commands connection sends PING every kBrokerPingMs: one
// unanswered for kBrokerDeadMs drops the connection and reconnects.
//
// Teardown: close() disconnects and closes the retry timer; the owner hears
// on_part_closed from the timer's close callback (hiredis closes its own
// poll handle and frees its memory in that handle's close callback).
#pragma once
#include <uv.h>

#include <cstdint>
#include <string>

#include "net/part_owner.h"

struct redisAsyncContext;

namespace wsbridge::net {

constexpr std::uint64_t kBrokerRetryFirstMs = 100;
constexpr std::uint64_t kBrokerRetryMostMs = 5000;
constexpr std::uint64_t kBrokerConnectTimeoutMs = 1000;
constexpr std::uint64_t kBrokerPingMs = 1000;
constexpr std::uint64_t kBrokerDeadMs = 3000;

class BrokerConnection {
 public:
  class Owner : public PartOwner {
   public:
    // The connection is up (and, for commands, the database selected).
    virtual void on_broker_connected(BrokerConnection& connection) noexcept = 0;
    // The connection is down; commands given to it are answered with a
    // null reply. A reconnect is scheduled.
    virtual void on_broker_lost(BrokerConnection& connection) noexcept = 0;

   protected:
    ~Owner() = default;
  };

  // `role` names it in log lines ("commands", "subscriptions"); `pinged`:
  // it watches itself with PING (not in subscribed mode, where a PING's
  // reply reaches no callback in hiredis 0.14).
  BrokerConnection(Owner& owner, std::string role, std::string host, int port, int db, bool pinged) noexcept;
  BrokerConnection(const BrokerConnection&) = delete;
  BrokerConnection& operator=(const BrokerConnection&) = delete;

  // Opens the retry timer and connects. Once.
  void start(uv_loop_t* loop) noexcept;
  // Disconnects for good (pending replies come back null) and closes the
  // timer. Idempotent.
  void close() noexcept;
  // Drops the connection as lost (pending replies come back null) and
  // reconnects after the backoff.
  void drop() noexcept;
  bool up() const noexcept { return up_; }
  Owner& owner() const noexcept { return owner_; }
  // The hiredis context while up, else null.
  redisAsyncContext* context() const noexcept { return up_ ? context_ : nullptr; }

 private:
  void connect() noexcept;
  void schedule_retry() noexcept;
  void say_lost(const std::string& why) noexcept;
  static void on_pong(redisAsyncContext* context, void* reply, void* privdata);
  void on_connected(int status) noexcept;
  void on_disconnected(int status) noexcept;
  static void on_connect_callback(const redisAsyncContext* context, int status);
  static void on_disconnect_callback(const redisAsyncContext* context, int status);
  static void on_retry_timer(uv_timer_t* timer) noexcept;

  Owner& owner_;
  const std::string role_;
  const std::string host_;
  const int port_;
  const int db_;
  const bool pinged_;
  uv_loop_t* loop_ = nullptr;
  uv_timer_t retry_timer_{};
  redisAsyncContext* context_ = nullptr;  // connecting or up
  std::uint64_t retry_ms_ = kBrokerRetryFirstMs;
  bool up_ = false;
  bool ever_up_ = false;
  bool loss_said_ = false;  // the current outage was logged
  bool closed_ = false;
  bool dropping_ = false;              // drop() is freeing the context
  std::uint64_t answered_at_ms_ = 0;   // the last PING's reply came then
  bool ping_in_flight_ = false;
};

}  // namespace wsbridge::net
