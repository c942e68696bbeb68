#include "proc/child_reaper.h"

#include <sys/wait.h>

#include <cerrno>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <new>
#include <string>
#include <system_error>
#include <thread>
#include <unordered_map>
#include <utility>
#include <vector>

#include "log/logger.h"

namespace wsbridge::proc {
namespace {

// Exits kept for a pid nobody watches yet. A child is watched a loop turn
// after its spawn returns, so only the children started in the last few
// moments are ever here; the bound is for pids that are never watched nor
// forgotten (a child the spawner started but whose pid never reached us).
constexpr std::size_t kMaxUnclaimedExits = 4096;

// One loop's inbox of exits, woken through its uv_async.
struct Mailbox {
  uv_async_t async{};
  uv_loop_t* loop = nullptr;
  std::vector<std::pair<pid_t, int>> exits;  // (pid, wait status), under the mutex
  std::size_t watched = 0;                   // pids whose watch names this mailbox
  bool closing = false;
};

struct Watch {
  ChildReaper::Listener* listener;
  Mailbox* mailbox;
};

struct ReaperState {
  std::mutex mutex;
  std::condition_variable child_started;
  std::uint64_t children_started = 0;
  bool thread_running = false;
  std::unordered_map<pid_t, Watch> watches;
  std::unordered_map<uv_loop_t*, Mailbox*> mailboxes;
  std::unordered_map<pid_t, int> unclaimed;
  std::deque<pid_t> unclaimed_order;  // oldest first, for the bound
};

// Never destroyed: the reaping thread may still be blocked in waitpid
// while static destructors run at exit.
ReaperState& state() noexcept {
  static ReaperState* const instance = new ReaperState;
  return *instance;
}

void keep_unclaimed(ReaperState& s, pid_t pid, int status) {
  if (s.unclaimed_order.size() >= kMaxUnclaimedExits) {
    s.unclaimed.erase(s.unclaimed_order.front());
    s.unclaimed_order.pop_front();
  }
  s.unclaimed[pid] = status;
  s.unclaimed_order.push_back(pid);
}

// Under the mutex: hands one reaped exit to its watcher's loop, or keeps it.
void deliver(ReaperState& s, pid_t pid, int status) {
  auto watch = s.watches.find(pid);
  if (watch == s.watches.end()) {
    keep_unclaimed(s, pid, status);
    return;
  }
  Mailbox* mailbox = watch->second.mailbox;
  mailbox->exits.emplace_back(pid, status);
  uv_async_send(&mailbox->async);
}

void reap_forever() noexcept {
  ReaperState& s = state();
  for (;;) {
    std::uint64_t started_before;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      started_before = s.children_started;
    }
    int status = 0;
    const pid_t pid = ::waitpid(-1, &status, 0);
    if (pid > 0) {
      try {
        std::lock_guard<std::mutex> lock(s.mutex);
        deliver(s, pid, status);
      } catch (const std::bad_alloc&) {
        log::write(log::LogLevel::Error, "process", "",
                   "Out of memory: the exit of process " + std::to_string(pid) + " was not reported");
      }
      continue;
    }
    if (errno == EINTR) continue;
    // ECHILD: no child at all. Sleep until one is started; a child created
    // after waitpid said so counts after started_before was read.
    std::unique_lock<std::mutex> lock(s.mutex);
    s.child_started.wait(lock, [&] { return s.children_started != started_before; });
  }
}

// Under the mutex, on the mailbox's loop thread: once nothing is watched
// through it nor waiting in it, its handle is closed (a loop without
// children keeps no handle of ours, so uv_loop_close succeeds).
void close_if_unused(ReaperState& s, Mailbox* mailbox) noexcept {
  if (mailbox->closing || mailbox->watched > 0 || !mailbox->exits.empty()) return;
  mailbox->closing = true;
  s.mailboxes.erase(mailbox->loop);
  uv_close(reinterpret_cast<uv_handle_t*>(&mailbox->async),
           [](uv_handle_t* handle) { delete static_cast<Mailbox*>(handle->data); });
}

void on_mailbox(uv_async_t* async) noexcept {
  ReaperState& s = state();
  auto* mailbox = static_cast<Mailbox*>(async->data);
  std::vector<std::pair<pid_t, int>> exits;
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    exits.swap(mailbox->exits);
  }
  for (const auto& [pid, status] : exits) {
    ChildReaper::Listener* listener = nullptr;
    {
      std::lock_guard<std::mutex> lock(s.mutex);
      auto watch = s.watches.find(pid);
      // Unwatched meanwhile (its owner went away): nobody to tell.
      if (watch == s.watches.end() || watch->second.mailbox != mailbox) continue;
      listener = watch->second.listener;
      s.watches.erase(watch);
      --mailbox->watched;
    }
    // Outside the lock: the listener may watch or unwatch other children.
    listener->on_child_reaped(status);
  }
  std::lock_guard<std::mutex> lock(s.mutex);
  close_if_unused(s, mailbox);
}

// Under the mutex, on `loop`'s thread.
Mailbox* mailbox_for(ReaperState& s, uv_loop_t* loop, int& error) {
  Mailbox*& slot = s.mailboxes[loop];
  if (slot != nullptr) return slot;
  auto* mailbox = new Mailbox;
  mailbox->loop = loop;
  error = uv_async_init(loop, &mailbox->async, &on_mailbox);
  if (error != 0) {
    delete mailbox;
    s.mailboxes.erase(loop);
    return nullptr;
  }
  mailbox->async.data = mailbox;
  slot = mailbox;
  return mailbox;
}

}  // namespace

int ChildReaper::watch(uv_loop_t* loop, pid_t pid, Listener* listener) noexcept {
  ReaperState& s = state();
  try {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.thread_running) {
      std::thread(reap_forever).detach();
      s.thread_running = true;
    }
    int error = 0;
    Mailbox* mailbox = mailbox_for(s, loop, error);
    if (mailbox == nullptr) return error;
    s.watches[pid] = Watch{listener, mailbox};
    ++mailbox->watched;
    if (auto kept = s.unclaimed.find(pid); kept != s.unclaimed.end()) {
      // It ended before we watched it: reported on the next turn all the same.
      mailbox->exits.emplace_back(pid, kept->second);
      s.unclaimed.erase(kept);
      uv_async_send(&mailbox->async);
    }
    return 0;
  } catch (const std::bad_alloc&) {
    return UV_ENOMEM;
  } catch (const std::system_error&) {
    return UV_EAGAIN;  // no thread could be made
  }
}

void ChildReaper::unwatch(pid_t pid) noexcept {
  ReaperState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  auto watch = s.watches.find(pid);
  if (watch == s.watches.end()) return;
  Mailbox* mailbox = watch->second.mailbox;
  s.watches.erase(watch);
  --mailbox->watched;
  close_if_unused(s, mailbox);
}

void ChildReaper::note_child_started() noexcept {
  ReaperState& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    ++s.children_started;
  }
  s.child_started.notify_one();
}

void ChildReaper::forget(pid_t pid) noexcept {
  ReaperState& s = state();
  std::lock_guard<std::mutex> lock(s.mutex);
  // Its place in unclaimed_order goes with the bound's next eviction.
  s.unclaimed.erase(pid);
}

}  // namespace wsbridge::proc
