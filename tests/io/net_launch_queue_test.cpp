// LaunchQueue on a real loop with real children: no more than kMaxInFlight
// launches on the pool at once, the others started as launches come back, and a launch whose owner no longer wants it starts nothing and comes
// back with ECANCELED. Every check ends with every handle closed.
#include <cerrno>
#include <memory>
#include <vector>

#include "io_test_support.h"
#include "net/child_launch.h"
#include "net/launch_queue.h"
#include "proc/spawn.h"
#include "proc/spawner.h"

using io_test::TestLoop;
using wsbridge::net::ChildLaunch;
using wsbridge::net::LaunchQueue;

namespace {

struct Launcher final : ChildLaunch::Owner {
  LaunchQueue& queue;
  bool wanted = true;
  ChildLaunch launch;
  bool launched = false;
  std::size_t in_flight_at_start = 0;
  int* came_back = nullptr;

  Launcher(LaunchQueue& q, int* counter) : queue(q), came_back(counter) {
    launch.path = "/bin/true";
    launch.argv = {"/bin/true"};
  }
  bool launch_still_wanted() noexcept override {
    in_flight_at_start = queue.in_flight();
    return wanted;
  }
  void on_child_launched() noexcept override {
    launched = true;
    ++*came_back;
    if (launch.error == 0) wsbridge::proc::discard_child(launch.child);
  }
};

}  // namespace

TEST_CASE("LaunchQueue: at most kMaxInFlight on the pool, the rest in order", "[net_launch_queue_test]") {
  TestLoop loop;
  wsbridge::proc::Spawner spawner;  // not started: children are spawned in this process
  LaunchQueue queue;
  int counter = 0;
  constexpr std::size_t kLaunches = LaunchQueue::kMaxInFlight * 3;
  std::vector<std::unique_ptr<Launcher>> launchers;
  for (std::size_t i = 0; i < kLaunches; ++i) {
    launchers.push_back(std::make_unique<Launcher>(queue, &counter));
    launchers.back()->launch.start(loop.get(), spawner, *launchers.back(), &queue);
  }
  CHECK(queue.in_flight() == LaunchQueue::kMaxInFlight);
  CHECK(queue.waiting() == kLaunches - LaunchQueue::kMaxInFlight);
  REQUIRE(loop.run_until([&] { return counter == static_cast<int>(kLaunches); }));
  CHECK(queue.in_flight() == 0);
  CHECK(queue.waiting() == 0);
  for (std::size_t i = 0; i < kLaunches; ++i) {
    INFO("launch " << i);
    CHECK(launchers[i]->launch.error == 0);
    CHECK(launchers[i]->in_flight_at_start <= LaunchQueue::kMaxInFlight);
    // A waiting one is started only as another comes back.
    if (i >= LaunchQueue::kMaxInFlight) {
      CHECK(launchers[i]->in_flight_at_start == LaunchQueue::kMaxInFlight);
    }
  }
  loop.close_and_check();
}

TEST_CASE("LaunchQueue: a launch nobody wants any more starts nothing", "[net_launch_queue_test]") {
  TestLoop loop;
  wsbridge::proc::Spawner spawner;
  LaunchQueue queue;
  int counter = 0;
  std::vector<std::unique_ptr<Launcher>> launchers;
  for (std::size_t i = 0; i < LaunchQueue::kMaxInFlight + 2; ++i) {
    launchers.push_back(std::make_unique<Launcher>(queue, &counter));
  }
  // The last one waits in the queue; its client "leaves" meanwhile.
  for (auto& launcher : launchers) launcher->launch.start(loop.get(), spawner, *launcher, &queue);
  launchers.back()->wanted = false;
  REQUIRE(loop.run_until([&] { return counter == static_cast<int>(launchers.size()); }));
  CHECK(launchers.back()->launch.error == ECANCELED);
  CHECK(launchers.back()->launch.child.pid <= 0);
  for (std::size_t i = 0; i + 1 < launchers.size(); ++i) CHECK(launchers[i]->launch.error == 0);
  CHECK(queue.in_flight() == 0);
  loop.close_and_check();
}
