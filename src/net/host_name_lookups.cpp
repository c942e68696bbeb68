#include "net/host_name_lookups.h"

#include <netdb.h>
#include <netinet/in.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

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
};

namespace {

using Lookup = HostNameLookups::Lookup;

// A thread left without work for this long ends.
constexpr std::chrono::seconds kIdleThreadLifetime{30};

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
      queue_.push_back(lookup);
    } catch (...) {
      lock.unlock();
      post_answer(lookup);  // no name rather than no answer
      return;
    }
    // A thread for each lookup that no idle thread will take, up to the cap.
    if (queue_.size() > static_cast<std::size_t>(idle_) && threads_ < HostNameLookups::kMaxThreads) {
      try {
        std::thread(&LookupThreads::run, this).detach();
        ++threads_;
      } catch (const std::system_error& e) {
        if (threads_ == 0) {
          // Nobody will ever take the queue: answer it with no names.
          std::deque<std::shared_ptr<Lookup>> unanswerable;
          unanswerable.swap(queue_);
          lock.unlock();
          log::write(log::LogLevel::Error, "server", "",
                     std::string("Cannot start a thread for --reverselookup: ") + e.what());
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

  void run() noexcept {
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
      lock.unlock();
      resolve(*lookup);
      post_answer(lookup);
      lookup.reset();
      lock.lock();
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
  int threads_ = 0;
  int idle_ = 0;  // threads waiting for work
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
  std::lock_guard<std::mutex> lock(inbox_->mutex);
  inbox_->open = false;
  inbox_->answered.reset();
}

void HostNameLookups::close() noexcept {
  if (!open_) return;
  open_ = false;
  {
    // After this no thread touches the handle, so it may be closed.
    std::lock_guard<std::mutex> lock(inbox_->mutex);
    inbox_->open = false;
    inbox_->answered.reset();
  }
  uv_close(as_handle(&async_), nullptr);
}

std::shared_ptr<HostNameLookups::Lookup> HostNameLookups::start(const sockaddr_storage& peer,
                                                                  Owner& owner) noexcept {
  if (!open_) return nullptr;
  std::shared_ptr<Lookup> lookup;
  try {
    lookup = std::make_shared<Lookup>();
  } catch (...) {
    return nullptr;
  }
  lookup->peer = peer;
  lookup->inbox = inbox_;
  lookup->owner = &owner;
  LookupThreads::instance().submit(lookup);
  return lookup;
}

void HostNameLookups::cancel(Lookup& lookup) noexcept { lookup.owner = nullptr; }

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
