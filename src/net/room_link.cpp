#include "net/room_link.h"

#include <hiredis/hiredis.h>

#include <new>

#include "net/uv_cast.h"

namespace wsbridge::net {
namespace {

// Claim (first, and each relay tick): this instance has clients of the room
// until its entry in the relays set expires; the lease is taken when free.
// 1: the lease is this instance's (also when an earlier claim's reply was
// lost), 0: another's, -2: Redis restarted less than a lease ago, so a
// free lease may be one its owner has not renewed yet (it still runs its
// program): nobody takes one until every owner has renewed or fenced itself.
constexpr std::string_view kClaimScript =
    "local info = redis.call('INFO', 'server')\n"
    "if tonumber(string.match(info, 'uptime_in_seconds:(%d+)')) < tonumber(ARGV[3]) then return -2 end\n"
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])\n"
    "redis.call('PEXPIRE', KEYS[2], ARGV[2])\n"
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner == false or (owner == 'ended' and ARGV[4] == 'first') then\n"
    "  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "  return 1\n"
    "end\n"
    "if owner == ARGV[1] then return 1 end\n"
    "return 0\n";

// Renewal (each owner tick): compare and renew, then count the relays
// whose entries have not expired. -1: the lease is another instance's. A
// lease that is gone (Redis restarted empty) is taken again: its owner is
// still within its own lease time (else it fenced itself), so no other
// program can have started.
constexpr std::string_view kRenewScript =
    "local owner = redis.call('GET', KEYS[1])\n"
    "if owner == false then redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])\n"
    "elseif owner ~= ARGV[1] then return -1\n"
    "else redis.call('PEXPIRE', KEYS[1], ARGV[2]) end\n"
    "local t = redis.call('TIME')\n"
    "local now = t[1] * 1000 + math.floor(t[2] / 1000)\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)\n"
    "return redis.call('ZCARD', KEYS[2])\n";

// Leaving: the lease goes (or is marked ended) only if it is still this
// instance's.
constexpr std::string_view kReleaseScript =
    "if redis.call('GET', KEYS[1]) == ARGV[1] then\n"
    "  if ARGV[3] == 'ended' then redis.call('SET', KEYS[1], 'ended', 'PX', ARGV[2])\n"
    "  else redis.call('DEL', KEYS[1]) end\n"
    "end\n"
    "redis.call('ZREM', KEYS[2], ARGV[1])\n"
    "return 1\n";

const std::string kLeaseText = std::to_string(kRoomLeaseMs);
// Redis's uptime is in whole seconds: one more than the lease.
const std::string kRestartGraceText = std::to_string(kRoomLeaseMs / 1000 + 1);

}  // namespace

RoomLink::RoomLink(RoomBroker& broker, Owner& owner, const std::string& key) noexcept
    : broker_(broker), owner_(owner) {
  try {
    const std::string prefix = "wsbridge:room:" + key;
    owner_key_ = prefix + ":owner";
    relays_key_ = prefix + ":relays";
    out_channel_ = prefix + ":out";
    in_channel_ = prefix + ":in";
  } catch (const std::bad_alloc&) {
    owner_key_.clear();  // start() refuses
  }
}

RoomLink::~RoomLink() {
  if (client_ != 0) broker_.remove_client(client_);
}

bool RoomLink::start(uv_loop_t* loop) noexcept {
  if (owner_key_.empty()) return false;
  client_ = broker_.add_client(*this);
  if (client_ == 0) return false;
  uv_timer_init(loop, &tick_);
  tick_.data = this;
  timer_open_ = true;
  uv_timer_start(&tick_, &RoomLink::on_tick, kRoomLinkTickMs, kRoomLinkTickMs);
  send_claim();
  return true;
}

void RoomLink::send_claim() noexcept {
  in_flight_ = true;
  sent_at_ms_ = uv_now(tick_.loop);
  // A room's first claim may take a lease its last program left marked
  // ended; a relay's takeover may not (that program ended by itself).
  const std::string_view which = role_ == Role::Claiming ? "first" : "takeover";
  broker_.command(client_, kClaim, {"EVAL", kClaimScript, "2", owner_key_, relays_key_, broker_.instance_id(),
                                    kLeaseText, kRestartGraceText, which});
}

void RoomLink::send_renewal() noexcept {
  in_flight_ = true;
  sent_at_ms_ = uv_now(tick_.loop);
  broker_.command(client_, kRenew,
                  {"EVAL", kRenewScript, "2", owner_key_, relays_key_, broker_.instance_id(), kLeaseText});
}

void RoomLink::on_tick(uv_timer_t* timer) noexcept {
  auto* link = static_cast<RoomLink*>(timer->data);
  if (link->role_ == Role::Owner && uv_now(timer->loop) + kRoomLeaseMarginMs >= link->valid_until_ms_) {
    // Fencing by time: past this point another instance may soon own the
    // room, so this program must be gone first.
    link->role_ = Role::Fenced;
    link->owner_.on_link_lease_lost();
    return;
  }
  if (link->in_flight_) return;  // one question at a time
  // Each kRoomLeaseRenewMs, or at the next tick after a question went
  // unanswered (the connection was lost): renewals resume as soon as the
  // broker is back.
  if (!link->ask_again_ && uv_now(timer->loop) - link->sent_at_ms_ < kRoomLeaseRenewMs) return;
  link->ask_again_ = false;
  if (link->role_ == Role::Owner) {
    link->send_renewal();
  } else if (link->role_ == Role::Relay || link->role_ == Role::Claiming) {
    link->send_claim();
  }
}

void RoomLink::on_broker_reply(int tag, const redisReply* reply) noexcept {
  if (tag == kRelease) return;
  in_flight_ = false;
  ask_again_ = reply == nullptr;
  if (role_ == Role::Released) return;
  if (tag == kClaim) {
    on_claim_reply(reply);
  } else if (tag == kRenew) {
    on_renew_reply(reply);
  }
}

void RoomLink::on_claim_reply(const redisReply* reply) noexcept {
  const bool answered = reply != nullptr && reply->type == REDIS_REPLY_INTEGER;
  if (!answered) {
    // The first claim unanswered: the room cannot start. A relay keeps
    // relaying (its next tick asks again).
    if (role_ == Role::Claiming) owner_.on_link_unreachable();
    return;
  }
  if (reply->integer == -2) return;  // Redis just restarted: the next tick asks again
  if (reply->integer == 1) {
    const bool takeover = was_relay_;
    role_ = Role::Owner;
    valid_until_ms_ = sent_at_ms_ + kRoomLeaseMs;
    listen_to(in_channel_);
    owner_.on_link_owned(takeover);
  } else if (role_ == Role::Claiming) {
    role_ = Role::Relay;
    was_relay_ = true;
    listen_to(out_channel_);
    owner_.on_link_relayed();
  }
}

void RoomLink::on_renew_reply(const redisReply* reply) noexcept {
  if (role_ != Role::Owner) return;
  if (reply == nullptr || reply->type != REDIS_REPLY_INTEGER) return;  // the tick's fence decides
  if (reply->integer < 0) {
    role_ = Role::Fenced;
    owner_.on_link_lease_lost();
    return;
  }
  valid_until_ms_ = sent_at_ms_ + kRoomLeaseMs;
  owner_.on_link_relay_count(reply->integer);
}

void RoomLink::listen_to(const std::string& channel) noexcept {
  if (listening_to_ == channel) return;
  if (!listening_to_.empty()) broker_.unsubscribe(listening_to_);
  try {
    listening_to_ = channel;
  } catch (const std::bad_alloc&) {
    listening_to_.clear();
    return;
  }
  broker_.subscribe(channel, client_);
}

void RoomLink::on_broker_message(std::string_view channel, std::string_view payload) noexcept {
  if (payload.empty() || (role_ != Role::Owner && role_ != Role::Relay)) return;
  // An owner hears its clients' messages; a relay the owner's output.
  if ((role_ == Role::Owner) != (channel == in_channel_)) return;
  owner_.on_link_message(payload.front(), payload.substr(1));
}

void RoomLink::publish(char kind, std::string_view payload) noexcept {
  if (role_ != Role::Owner && role_ != Role::Relay) return;
  std::string& message = broker_.scratch();
  try {
    message.assign(1, kind);
    message.append(payload);
  } catch (const std::bad_alloc&) {
    return;
  }
  broker_.send({"PUBLISH", role_ == Role::Owner ? out_channel_ : in_channel_, message});
}

void RoomLink::release(bool ended) noexcept {
  if (role_ == Role::Released || client_ == 0) return;
  role_ = Role::Released;
  broker_.command(client_, kRelease, {"EVAL", kReleaseScript, "2", owner_key_, relays_key_, broker_.instance_id(),
                                      kLeaseText, ended ? "ended" : "gone"});
  if (!listening_to_.empty()) broker_.unsubscribe(listening_to_);
  listening_to_.clear();
  if (!timer_open_) return;
  timer_open_ = false;
  uv_timer_stop(&tick_);
  uv_close(as_handle(&tick_), [](uv_handle_t* handle) {
    static_cast<RoomLink*>(handle->data)->owner_.on_part_closed();
  });
}

}  // namespace wsbridge::net
