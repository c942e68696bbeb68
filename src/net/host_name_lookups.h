// Reverse DNS for --reverselookup, on threads of its own.
//
// Why not uv_getnameinfo: it runs on libuv's thread pool, whose four threads
// also start every child (ChildLaunch). A resolver that does not answer holds
// a thread for its whole timeout, seconds, so four such lookups held up every
// new connection, even one whose own name was in /etc/hosts, and lookups went
// through four at a time (websocketd, whose resolver runs in goroutines, does
// them all at once). Measured with a resolver that never answers, 8 clients
// and a ninth from 127.0.0.1: every 101 came after 8 s, against websocketd's
// 0.2 s for the ninth and 2 s for the rest.
//
// Here the lookups run on a process-wide set of up to kMaxThreads threads,
// started when lookups wait and ended after a while idle. Each worker loop
// has one HostNameLookups, through which the answers come back to the loop
// (a uv_async). A lookup whose owner has gone (the client left, the server
// stops) is cancelled: it still runs to the end on its thread, since a
// blocking resolver cannot be interrupted, but its answer is dropped.
#pragma once
#include <sys/socket.h>
#include <uv.h>

#include <memory>
#include <string>

namespace wsbridge::net {

class HostNameLookups {
 public:
  class Owner {
   public:
    // On the loop thread, once, unless cancelled: the peer's name, or ""
    // when it has none or the lookup failed.
    virtual void on_host_name_found(const std::string& name) noexcept = 0;

   protected:
    ~Owner() = default;
  };
  class Lookup;  // one lookup in flight; its owner keeps it, to cancel it
  struct Inbox;   // answers on their way to the loop (shared with the threads)

  // Lookups at once, in the whole process; more wait for a free thread.
  static constexpr int kMaxThreads = 64;

  HostNameLookups() = default;
  HostNameLookups(const HostNameLookups&) = delete;
  HostNameLookups& operator=(const HostNameLookups&) = delete;
  // Answers that come later are dropped (also after a forced exit, when the
  // handle was never closed).
  ~HostNameLookups();

  // Opens the handle the answers arrive on. Returns 0 or a libuv error.
  [[nodiscard]] int open(uv_loop_t* loop) noexcept;
  // Closes that handle; answers still to come are dropped. On the loop
  // thread; idempotent.
  void close() noexcept;

  // Starts looking up `peer`'s name (NI_NAMEREQD). Returns null when out of
  // memory, and then nothing follows.
  [[nodiscard]] std::shared_ptr<Lookup> start(const sockaddr_storage& peer, Owner& owner) noexcept;
  // The owner no longer wants the answer. On the loop thread.
  static void cancel(Lookup& lookup) noexcept;

 private:
  static void on_answers(uv_async_t* handle) noexcept;

  uv_async_t async_{};
  bool open_ = false;
  std::shared_ptr<Inbox> inbox_;
};

}  // namespace wsbridge::net
