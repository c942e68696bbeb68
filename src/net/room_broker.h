// This event loop's way to the room broker (--room-broker): the Redis that
// every instance of a cluster names, through which they share their rooms.
// Two connections per loop, however many rooms and clients: one for
// commands (leases, publishing) and one for subscriptions (the rooms'
// channels), each reconnecting on its own (BrokerConnection).
//
// Rooms talk to it through a Client registered under a number: a reply or
// a message for a client that has gone since is dropped, so a room may go
// while its commands are in flight. After a reconnect every channel is
// subscribed again.
//
// Teardown: close() closes both connections; the owner hears
// on_part_closed once both have closed.
#pragma once
#include <uv.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "net/broker_connection.h"
#include "net/part_owner.h"
#include "wsbridge/metrics/loop_counter.h"

struct redisReply;

namespace wsbridge::net {

class RoomBroker final : private BrokerConnection::Owner {
 public:
  class Client {
   public:
    // The answer to command(..., `tag`, ...): null when the broker could not
    // be asked or did not answer (the connection is down).
    virtual void on_broker_reply(int tag, const redisReply* reply) noexcept = 0;
    // A message published on a channel this client subscribed.
    virtual void on_broker_message(std::string_view channel, std::string_view payload) noexcept = 0;

   protected:
    ~Client() = default;
  };

  // `reconnects`: the loop's counter of reconnects (metrics).
  RoomBroker(PartOwner& owner, std::string host, int port, int db, metrics::LoopCounter& reconnects) noexcept;
  RoomBroker(const RoomBroker&) = delete;
  RoomBroker& operator=(const RoomBroker&) = delete;

  void start(uv_loop_t* loop) noexcept;
  void close() noexcept;
  // Both connections are up: rooms may be opened.
  bool available() const noexcept { return commands_.up() && subscriptions_.up(); }
  // This loop's name in the cluster: random, chosen at start-up.
  const std::string& instance_id() const noexcept { return instance_id_; }

  std::uint64_t add_client(Client& client) noexcept;
  void remove_client(std::uint64_t number) noexcept;
  // Sends a command (its words, binary-safe); the reply goes to the client
  // with `tag`, or a null reply at once when the broker is not up.
  void command(std::uint64_t client, int tag, std::initializer_list<std::string_view> words) noexcept;
  // Sends a command whose reply nobody needs (PUBLISH).
  void send(std::initializer_list<std::string_view> words) noexcept;
  // Messages on `channel` go to `client` (one client per channel).
  void subscribe(const std::string& channel, std::uint64_t client) noexcept;
  void unsubscribe(const std::string& channel) noexcept;
  // A buffer for one message being built (consumed at once).
  std::string& scratch() noexcept { return scratch_; }

 private:
  // BrokerConnection::Owner
  void on_broker_connected(BrokerConnection& connection) noexcept override;
  void on_broker_lost(BrokerConnection& connection) noexcept override;
  void on_part_closed() noexcept override;

  void send_subscribe(const std::string& channel) noexcept;
  static void on_reply(struct redisAsyncContext* context, void* reply, void* privdata);
  static void on_message(struct redisAsyncContext* context, void* reply, void* privdata);

  PartOwner& owner_;
  BrokerConnection commands_;
  BrokerConnection subscriptions_;
  std::string instance_id_;
  std::unordered_map<std::uint64_t, Client*> clients_;
  std::unordered_map<std::string, std::uint64_t> channels_;  // subscribed channel → client
  std::string scratch_;
  std::uint64_t next_client_ = 1;
  metrics::LoopCounter& reconnects_;
  bool ever_connected_[2] = {false, false};
  int open_parts_ = 0;
};

}  // namespace wsbridge::net
