#include "net/host_name_lookups.h"

#include <netdb.h>
#include <netinet/in.h>

#include <pthread.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

#include "log/logger.h"
#include "net/uv_cast.h"

namespace wsbridge::net {

struct HostNameLookups::Inbox {
  std::mutex mutex;
  bool open = true;  // false once the loop's handle is closed: drop answers
  uv_async_t* async = nullptr;
  // Answered lookups, linked through Lookup::next_answered so that posting
  // an answer cannot fail for want of memory (its client would wait on).
  std::shared_ptr<Lookup> answered;
};

class HostNameLookups::Lookup {
 public:
  sockaddr_storage peer{};
  std::string name;  // written by the lookup thread before the answer is posted
  std::shared_ptr<Inbox> inbox;
  std::shared_ptr<Lookup> next_answered;  // guarded by inbox->mutex
  Owner* owner = nullptr;                 // the loop thread's alone; null once cancelled
  std::atomic<bool> cancelled{false};     // the same, for the lookup threads to see
  std::string key;                        // address_key(peer), made once on the loop thread
};

namespace {

using Lookup = HostNameLookups::Lookup;

// A thread left without work for this long ends.
constexpr std::chrono::seconds kIdleThreadLifetime{30};

// The address alone (family and bytes, no port): lookups of one address
// share one resolver call.
std::string address_key(const sockaddr_storage& peer) {
  if (peer.ss_family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6&>(peer);
    return std::string("6") + std::string(reinterpret_cast<const char*>(&in6.sin6_addr), sizeof in6.sin6_addr);
  }
  const auto& in4 = reinterpret_cast<const sockaddr_in&>(peer);
  return std::string("4") + std::string(reinterpret_cast<const char*>(&in4.sin_addr), sizeof in4.sin_addr);
}

// Lets go of a chain of answers one link at a time (a long chain freed
// through its own destructors would recurse once per link).
void release_chain(std::shared_ptr<Lookup> chain) noexcept {
  while (chain) chain = std::move(chain->next_answered);
}

// The threads that run lookups, shared by every worker loop.
class LookupThreads {
 public:
  // Never destroyed: a thread may be blocked in the resolver when the
  // process exits, and must find its mutex still there if it wakes.
  static LookupThreads& instance() {
    static LookupThreads* const threads = new LookupThreads;
    return *threads;
  }

  void submit(const std::shared_ptr<Lookup>& lookup) noexcept {
    std::unique_lock<std::mutex> lock(mutex_);
    try {
      // One lookup per address at a time: a client that opens many
      // connections (or a flood from one address) takes one thread, and the
      // later ones share the first one's answer.
      auto [in_flight, is_new] = in_flight_.try_emplace(lookup->key);
      if (!is_new) {
        in_flight->second.push_back(lookup);
        return;
      }
      try {
        queue_.push_back(lookup);
      } catch (...) {
        in_flight_.erase(in_flight);
        throw;
      }
    } catch (...) {
      lock.unlock();
      post_answer(lookup);  // out of memory: no name rather than no answer
      return;
    }
    // A thread for each lookup that no idle thread will take, up to the cap.
    if (queue_.size() > static_cast<std::size_t>(idle_) && threads_ < HostNameLookups::kMaxThreads) {
      try {
        std::thread(&LookupThreads::run, this).detach();
        ++threads_;
      } catch (...) {  // std::system_error, or std::bad_alloc for its state
        if (threads_ == 0) {
          // Nobody will ever take the queue: answer it with no names.
          std::vector<std::shared_ptr<Lookup>> unanswerable;
          for (const auto& queued : queue_) take_with_sharers(queued, unanswerable);
          queue_.clear();
          lock.unlock();
          if (!thread_failure_said_.exchange(true)) {
            log::write(log::LogLevel::Error, "server", "",
                       "Cannot start a thread for --reverselookup: REMOTE_HOST is the address until one starts");
          }
          for (const auto& waiting : unanswerable) post_answer(waiting);
          return;
        }
      }
    }
    work_.notify_one();
  }

  // Hands an answered lookup to its loop, if the loop still listens.
  static void post_answer(const std::shared_ptr<Lookup>& lookup) noexcept {
    HostNameLookups::Inbox& inbox = *lookup->inbox;
    std::lock_guard<std::mutex> lock(inbox.mutex);
    if (!inbox.open) return;
    lookup->next_answered = std::move(inbox.answered);
    inbox.answered = lookup;
    uv_async_send(inbox.async);
  }

 private:
  LookupThreads() = default;

  // `lookup` and those waiting for the same address, into `out`; the
  // address is no longer in flight. Under mutex_; `out` has room reserved
  // or may grow (the lookups themselves are not copied).
  void take_with_sharers(const std::shared_ptr<Lookup>& lookup, std::vector<std::shared_ptr<Lookup>>& out) noexcept {
    auto in_flight = in_flight_.find(lookup->key);
    try {
      out.push_back(lookup);
      if (in_flight != in_flight_.end()) {
        for (auto& sharer : in_flight->second) out.push_back(std::move(sharer));
      }
    } catch (...) {
      // Out of memory: these lookups go unanswered, and their clients wait
      // until they leave (which cancels them) or the server stops.
    }
    if (in_flight != in_flight_.end()) in_flight_.erase(in_flight);
  }

  void run() noexcept {
    pthread_setname_np(pthread_self(), "wsbridge-dns");
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
      ++idle_;
      const bool have_work = work_.wait_for(lock, kIdleThreadLifetime, [this] { return !queue_.empty(); });
      --idle_;
      if (!have_work) {
        --threads_;
        return;
      }
      std::shared_ptr<Lookup> lookup = std::move(queue_.front());
      queue_.pop_front();
      auto in_flight = in_flight_.find(lookup->key);
      const bool shared = in_flight != in_flight_.end() && !in_flight->second.empty();
      if (lookup->cancelled.load(std::memory_order_relaxed) && !shared) {
        // Nobody wants it any more (its client left while it queued).
        if (in_flight != in_flight_.end()) in_flight_.erase(in_flight);
        continue;
      }
      lock.unlock();
      resolve(*lookup);
      lock.lock();
      std::vector<std::shared_ptr<Lookup>> answered;
      take_with_sharers(lookup, answered);
      lock.unlock();
      for (auto& each : answered) {
        if (each != lookup) copy_name(*lookup, *each);
        post_answer(each);
      }
      answered.clear();
      lookup.reset();
      lock.lock();
    }
  }

  static void copy_name(const Lookup& from, Lookup& to) noexcept {
    try {
      to.name = from.name;
    } catch (...) {
      to.name.clear();
    }
  }

  static void resolve(Lookup& lookup) noexcept {
    char host[NI_MAXHOST];
    const socklen_t length = lookup.peer.ss_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
    if (::getnameinfo(reinterpret_cast<const sockaddr*>(&lookup.peer), length, host, sizeof host, nullptr, 0,
                      NI_NAMEREQD) != 0) {
      return;  // no name: REMOTE_HOST stays the address
    }
    try {
      lookup.name = host;
    } catch (...) {
      lookup.name.clear();
    }
  }

  std::mutex mutex_;
  std::condition_variable work_;
  std::deque<std::shared_ptr<Lookup>> queue_;
  // Addresses being looked up (queued or running), each with the later
  // lookups of the same address that wait for its answer.
  std::map<std::string, std::vector<std::shared_ptr<Lookup>>> in_flight_;
  int threads_ = 0;
  int idle_ = 0;  // threads waiting for work
  std::atomic<bool> thread_failure_said_{false};
};

}  // namespace

int HostNameLookups::open(uv_loop_t* loop) noexcept {
  try {
    inbox_ = std::make_shared<Inbox>();
  } catch (...) {
    return UV_ENOMEM;
  }
  int err = uv_async_init(loop, &async_, &HostNameLookups::on_answers);
  if (err != 0) return err;
  async_.data = this;
  inbox_->async = &async_;
  open_ = true;
  return 0;
}

HostNameLookups::~HostNameLookups() {
  if (!inbox_) return;
  std::shared_ptr<Lookup> dropped;
  {
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    inbox_->open = false;
    dropped = std::move(inbox_->answered);
  }
  release_chain(std::move(dropped));
}

void HostNameLookups::close() noexcept {
  if (!open_) return;
  open_ = false;
  std::shared_ptr<Lookup> dropped;
  {
    // After this no thread touches the handle, so it may be closed.
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    inbox_->open = false;
    dropped = std::move(inbox_->answered);
  }
  release_chain(std::move(dropped));
  uv_close(as_handle(&async_), nullptr);
}

std::shared_ptr<HostNameLookups::Lookup> HostNameLookups::start(const sockaddr_storage& peer,
                                                                  Owner& owner) noexcept {
  if (!open_) return nullptr;
  std::shared_ptr<Lookup> lookup;
  try {
    lookup = std::make_shared<Lookup>();
    lookup->key = address_key(peer);
  } catch (...) {
    return nullptr;
  }
  lookup->peer = peer;
  lookup->inbox = inbox_;
  lookup->owner = &owner;
  LookupThreads::instance().submit(lookup);
  return lookup;
}

void HostNameLookups::cancel(Lookup& lookup) noexcept {
  lookup.owner = nullptr;
  lookup.cancelled.store(true, std::memory_order_relaxed);
}

void HostNameLookups::on_answers(uv_async_t* handle) noexcept {
  auto* self = static_cast<HostNameLookups*>(handle->data);
  std::shared_ptr<Lookup> answered;
  {
    std::lock_guard<std::mutex> lock(self->inbox_->mutex);
    answered = std::move(self->inbox_->answered);
  }
  while (answered) {
    std::shared_ptr<Lookup> next = std::move(answered->next_answered);
    Owner* owner = answered->owner;
    answered->owner = nullptr;
    if (owner != nullptr) owner->on_host_name_found(answered->name);
    answered = std::move(next);
  }
}

}  // namespace wsbridge::net
