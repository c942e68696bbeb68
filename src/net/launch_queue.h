// The child launches of one event loop (ChildLaunch), at most kMaxInFlight
// on the thread pool at once; the others wait here, in order of arrival.
//
// Why a queue of our own: libuv's pool has a queue too, but a launch in it
// can no longer be looked at. Waiting here, a launch is started only when a
// pool thread is about to be free, and its owner is asked then whether the
// child is still wanted (a client that sent an upgrade and left gets no
// program), so a flood of such clients costs no processes and cannot keep
// the loop busy with children nobody will talk to.
//
// Intrusive (each ChildLaunch links to the next), so queuing cannot fail.
// The owners keep their launches alive until on_child_launched, so nothing
// ever leaves the queue but by being started.
#pragma once
#include <cstddef>

namespace wsbridge::net {

class ChildLaunch;

class LaunchQueue {
 public:
  // libuv's pool has 4 threads (UV_THREADPOOL_SIZE unset) shared by every
  // loop: more launches in flight would only wait in the pool's own queue,
  // where a client that leaves is no longer noticed; fewer would leave
  // threads idle when one loop does all the work.
  static constexpr std::size_t kMaxInFlight = 4;

  LaunchQueue() = default;
  LaunchQueue(const LaunchQueue&) = delete;
  LaunchQueue& operator=(const LaunchQueue&) = delete;

  // Starts `launch` now, or when a launch in flight comes back.
  void submit(ChildLaunch& launch) noexcept;
  // A launch in flight came back from the pool: start the next one.
  void on_launch_done() noexcept;

  std::size_t in_flight() const noexcept { return in_flight_; }
  std::size_t waiting() const noexcept { return waiting_; }

 private:
  ChildLaunch* first_waiting_ = nullptr;
  ChildLaunch* last_waiting_ = nullptr;
  std::size_t in_flight_ = 0;
  std::size_t waiting_ = 0;
};

}  // namespace wsbridge::net
