// One connection's place in the per-client counts (--maxconn-per-client):
// taken when its request is admitted, given back when the connection is
// gone (the slot is destroyed with the connection's parts).
#pragma once
#include <string>
#include <utility>

#include "wsbridge/bridge/client_limits.h"

namespace wsbridge::net {

class ClientSlot {
 public:
  ClientSlot() = default;
  ClientSlot(const ClientSlot&) = delete;
  ClientSlot& operator=(const ClientSlot&) = delete;
  ~ClientSlot() { release(); }

  // `limits` admitted a connection from `key`.
  void hold(bridge::ClientLimits& limits, std::string key) {
    release();
    key_ = std::move(key);
    limits_ = &limits;
  }
  void release() noexcept {
    if (limits_ != nullptr) limits_->release(key_);
    limits_ = nullptr;
  }

 private:
  bridge::ClientLimits* limits_ = nullptr;
  std::string key_;
};

}  // namespace wsbridge::net
