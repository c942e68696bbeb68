#include "net/room_broker.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <sys/random.h>

#include <cstdio>
#include <new>
#include <vector>

#include "log/logger.h"

namespace wsbridge::net {
namespace {

// A command's client number and tag share hiredis's one private pointer:
// the tag in the low bits.
constexpr unsigned kTagBits = 4;
// The longest command sent (EVAL of the claim script with its keys and
// arguments) has 9 words.
constexpr std::size_t kMostWords = 12;

void* pack(std::uint64_t client, int tag) noexcept {
  return reinterpret_cast<void*>(static_cast<std::uintptr_t>((client << kTagBits) | static_cast<unsigned>(tag)));
}

std::string random_instance_id() {
  unsigned char bytes[8] = {};
  if (getrandom(bytes, sizeof bytes, 0) != static_cast<ssize_t>(sizeof bytes)) {
    // No entropy source: the pid and the clock still differ between instances.
    const std::uint64_t fallback = (static_cast<std::uint64_t>(getpid()) << 32) ^ uv_hrtime();
    for (std::size_t i = 0; i < sizeof bytes; ++i) bytes[i] = static_cast<unsigned char>(fallback >> (8 * i));
  }
  char hex[17];
  for (std::size_t i = 0; i < sizeof bytes; ++i) std::snprintf(hex + 2 * i, 3, "%02x", bytes[i]);
  return std::string(hex, 16);
}

void send_words(redisAsyncContext* context, redisCallbackFn* callback, void* privdata,
                std::initializer_list<std::string_view> words) noexcept {
  const char* argv[kMostWords];
  std::size_t lengths[kMostWords];
  int argc = 0;
  for (std::string_view word : words) {
    if (argc == static_cast<int>(kMostWords)) break;
    argv[argc] = word.data();
    lengths[argc] = word.size();
    ++argc;
  }
  redisAsyncCommandArgv(context, callback, privdata, argc, argv, lengths);
}

}  // namespace

RoomBroker::RoomBroker(PartOwner& owner, std::string host, int port, int db, metrics::LoopCounter& reconnects) noexcept
    : owner_(owner),
      commands_(*this, "commands", host, port, db, true),
      subscriptions_(*this, "subscriptions", host, port, 0, false),
      instance_id_(random_instance_id()),
      reconnects_(reconnects) {}

void RoomBroker::start(uv_loop_t* loop) noexcept {
  open_parts_ = 2;
  commands_.start(loop);
  subscriptions_.start(loop);
}

void RoomBroker::close() noexcept {
  commands_.close();
  subscriptions_.close();
}

void RoomBroker::on_part_closed() noexcept {
  if (--open_parts_ == 0) owner_.on_part_closed();
}

void RoomBroker::on_broker_connected(BrokerConnection& connection) noexcept {
  const int which = &connection == &commands_ ? 0 : 1;
  if (ever_connected_[which]) ++reconnects_;
  ever_connected_[which] = true;
  if (&connection != &subscriptions_) return;
  for (const auto& [channel, client] : channels_) send_subscribe(channel);
}

void RoomBroker::on_broker_lost(BrokerConnection& connection) noexcept {
  // The subscriptions connection cannot watch itself (see BrokerConnection):
  // when the commands connection finds Redis silent, it is dropped too.
  if (&connection == &commands_) subscriptions_.drop();
}

std::uint64_t RoomBroker::add_client(Client& client) noexcept {
  const std::uint64_t number = next_client_++;
  try {
    clients_.emplace(number, &client);
  } catch (const std::bad_alloc&) {
    return 0;  // its replies are dropped: it sees the broker as silent
  }
  return number;
}

void RoomBroker::remove_client(std::uint64_t number) noexcept { clients_.erase(number); }

void RoomBroker::command(std::uint64_t client, int tag, std::initializer_list<std::string_view> words) noexcept {
  redisAsyncContext* context = commands_.context();
  if (context == nullptr) {
    auto found = clients_.find(client);
    if (found != clients_.end()) found->second->on_broker_reply(tag, nullptr);
    return;
  }
  send_words(context, &RoomBroker::on_reply, pack(client, tag), words);
}

void RoomBroker::send(std::initializer_list<std::string_view> words) noexcept {
  redisAsyncContext* context = commands_.context();
  if (context != nullptr) send_words(context, nullptr, nullptr, words);
}

void RoomBroker::on_reply(redisAsyncContext* context, void* reply, void* privdata) {
  // The commands connection's owner is this broker.
  auto* self = static_cast<RoomBroker*>(&static_cast<BrokerConnection*>(context->data)->owner());
  const auto packed = reinterpret_cast<std::uintptr_t>(privdata);
  auto client = self->clients_.find(packed >> kTagBits);
  if (client == self->clients_.end()) return;
  client->second->on_broker_reply(static_cast<int>(packed & ((1u << kTagBits) - 1)),
                                  static_cast<const redisReply*>(reply));
}

void RoomBroker::subscribe(const std::string& channel, std::uint64_t client) noexcept {
  try {
    channels_[channel] = client;
  } catch (const std::bad_alloc&) {
    return;
  }
  send_subscribe(channel);
}

void RoomBroker::send_subscribe(const std::string& channel) noexcept {
  redisAsyncContext* context = subscriptions_.context();
  if (context != nullptr) send_words(context, &RoomBroker::on_message, this, {"SUBSCRIBE", channel});
}

void RoomBroker::unsubscribe(const std::string& channel) noexcept {
  channels_.erase(channel);
  redisAsyncContext* context = subscriptions_.context();
  if (context != nullptr) send_words(context, nullptr, nullptr, {"UNSUBSCRIBE", channel});
}

void RoomBroker::on_message(redisAsyncContext*, void* reply, void* privdata) {
  auto* self = static_cast<RoomBroker*>(privdata);
  const auto* r = static_cast<const redisReply*>(reply);
  // ["message", channel, payload]; subscribe and unsubscribe confirmations
  // are arrays too, and are not messages.
  if (r == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3) return;
  const redisReply* kind = r->element[0];
  if (kind->type != REDIS_REPLY_STRING || std::string_view(kind->str, kind->len) != "message") return;
  const std::string channel(r->element[1]->str, r->element[1]->len);
  auto subscribed = self->channels_.find(channel);
  if (subscribed == self->channels_.end()) return;
  auto client = self->clients_.find(subscribed->second);
  if (client == self->clients_.end()) return;
  client->second->on_broker_message(channel, std::string_view(r->element[2]->str, r->element[2]->len));
}

}  // namespace wsbridge::net
