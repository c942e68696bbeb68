// A room's place in the cluster (--room-broker): its lease and its two
// channels in Redis.
//
// Keys, for a room whose path is P (the same key the local RoomTable uses):
//   wsbridge:room:P:owner   the lease: the owning instance's id, with a TTL
//   wsbridge:room:P:relays  instances relaying P to clients of their own
//                           (a sorted set scored by when each entry expires)
//   wsbridge:room:P:out     channel: the program's output, from the owner
//   wsbridge:room:P:in      channel: clients' messages, to the owner
// (No suffix is the end of another, so two paths never share a key.)
//
// Ownership: the first claim (SET NX PX kRoomLeaseMs) decides. The owner
// renews every kRoomLeaseRenewMs with a script that renews only its own
// lease; it is fenced by time: when no renewal has been confirmed for
// kRoomLeaseMs - kRoomLeaseMarginMs since it was sent, the room is told to
// kill its program, a margin before the lease can expire in Redis and
// another instance claim it. Relays claim again at every tick, so when the
// owner dies one of them owns the room within kRoomLeaseMs + one tick. For
// kRoomLeaseMs (rounded up to a second) after Redis starts, nobody claims:
// a lease lost in a restart may belong to an owner still running.
//
// Messages on the channels start with one byte saying what they are: 'T'
// a text line, 'B' a binary message, 'E' the program ended (the decimal
// wait status follows).
#pragma once
#include <uv.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "net/part_owner.h"
#include "net/room_broker.h"

namespace wsbridge::net {

constexpr std::uint64_t kRoomLeaseMs = 3000;
constexpr std::uint64_t kRoomLeaseRenewMs = 1000;
constexpr std::uint64_t kRoomLeaseMarginMs = 500;
// The link looks at its lease this often: the fence is checked at each tick
// (so the program is killed at most a tick after the margin is reached),
// and a renewal lost with the connection is sent again at the next one.
constexpr std::uint64_t kRoomLinkTickMs = 200;

class RoomLink final : private RoomBroker::Client {
 public:
  class Owner : public PartOwner {
   public:
    // The lease is this instance's: run the program (`takeover`: a program
    // ran elsewhere before).
    virtual void on_link_owned(bool takeover) noexcept = 0;
    // Another instance owns the room: relay its output.
    virtual void on_link_relayed() noexcept = 0;
    // The owner's lease can no longer be trusted: end the program now.
    virtual void on_link_lease_lost() noexcept = 0;
    // The broker could not be asked for the first claim.
    virtual void on_link_unreachable() noexcept = 0;
    // Owner: at each renewal, how many other instances have clients here.
    virtual void on_link_relay_count(long long relays) noexcept = 0;
    // A message on the channel this side listens to (out for a relay, in
    // for the owner): its kind byte and the rest.
    virtual void on_link_message(char kind, std::string_view payload) noexcept = 0;

   protected:
    ~Owner() = default;
  };

  RoomLink(RoomBroker& broker, Owner& owner, const std::string& key) noexcept;
  ~RoomLink();
  RoomLink(const RoomLink&) = delete;
  RoomLink& operator=(const RoomLink&) = delete;

  // Opens the tick timer and sends the first claim. Once. False when out
  // of memory (nothing opened).
  [[nodiscard]] bool start(uv_loop_t* loop) noexcept;
  bool owner() const noexcept { return role_ == Role::Owner; }
  bool relaying() const noexcept { return role_ == Role::Relay; }
  // Publishes on the out channel (owner) or the in channel (relay).
  void publish(char kind, std::string_view payload) noexcept;
  // Leaves the cluster's room: the lease (if held) goes (`ended`: it is
  // marked ended for a lease time instead, which only a new room's first
  // claim may take, not a relay's takeover), and so does the presence; the
  // channel is unsubscribed, the timer closed (on_part_closed follows).
  // Idempotent.
  void release(bool ended) noexcept;

 private:
  enum class Role { Claiming, Owner, Relay, Fenced, Released };
  enum Tag : int { kClaim = 1, kRenew = 2, kRelease = 3 };

  // RoomBroker::Client
  void on_broker_reply(int tag, const redisReply* reply) noexcept override;
  void on_broker_message(std::string_view channel, std::string_view payload) noexcept override;

  void send_claim() noexcept;
  void send_renewal() noexcept;
  void on_claim_reply(const redisReply* reply) noexcept;
  void on_renew_reply(const redisReply* reply) noexcept;
  void listen_to(const std::string& channel) noexcept;
  static void on_tick(uv_timer_t* timer) noexcept;

  RoomBroker& broker_;
  Owner& owner_;
  std::string owner_key_, relays_key_, out_channel_, in_channel_;
  std::string listening_to_;  // the subscribed channel, or empty
  std::uint64_t client_ = 0;
  uv_timer_t tick_{};
  Role role_ = Role::Claiming;
  bool in_flight_ = false;          // a claim or renewal awaits its reply
  bool ask_again_ = false;          // the last one went unanswered: ask at the next tick
  bool was_relay_ = false;          // a claim failed before: a win is a takeover
  std::uint64_t sent_at_ms_ = 0;    // when the claim or renewal in flight was sent
  std::uint64_t valid_until_ms_ = 0;  // owner: the lease holds until then at least
  bool timer_open_ = false;
};

}  // namespace wsbridge::net
