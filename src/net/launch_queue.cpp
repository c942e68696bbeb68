#include "net/launch_queue.h"

#include "net/child_launch.h"

namespace wsbridge::net {

void LaunchQueue::submit(ChildLaunch& launch) noexcept {
  if (in_flight_ < kMaxInFlight) {
    ++in_flight_;
    launch.run();
    return;
  }
  launch.next_waiting_ = nullptr;
  if (last_waiting_ != nullptr) {
    last_waiting_->next_waiting_ = &launch;
  } else {
    first_waiting_ = &launch;
  }
  last_waiting_ = &launch;
  ++waiting_;
}

void LaunchQueue::on_launch_done() noexcept {
  --in_flight_;
  if (first_waiting_ == nullptr) return;
  ChildLaunch& next = *first_waiting_;
  first_waiting_ = next.next_waiting_;
  if (first_waiting_ == nullptr) last_waiting_ = nullptr;
  next.next_waiting_ = nullptr;
  --waiting_;
  ++in_flight_;
  next.run();
}

}  // namespace wsbridge::net
