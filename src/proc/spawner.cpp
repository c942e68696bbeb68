#include "proc/spawner.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <thread>

#include "log/logger.h"

namespace wsbridge::proc {
namespace {

// Each spawner thread is held while its child execs (CLONE_VFORK), so this
// many children can be starting at once: as many as libuv's thread pool
// has threads by default, the callers' side of the same hand-off.
constexpr int kSpawnerThreads = 4;
// A request larger than this is refused (E2BIG): argv and env are bounded by
// the request head long before this, so only a broken peer sends more.
constexpr std::uint32_t kMaxRequestBytes = 16u << 20;
constexpr std::uint32_t kRequestMagic = 0x77736231;  // "wsb1"
// The descriptors of one request, in this order on the control message.
constexpr int kReplyChannel = 0, kChildStdin = 1, kChildStdout = 2, kChildStderr = 3, kRequestFds = 4;

struct RequestHeader {
  std::uint32_t magic = kRequestMagic;
  std::uint32_t body_bytes = 0;
  std::uint32_t argc = 0;
  std::uint32_t envc = 0;
  std::uint32_t has_cwd = 0;
};

struct Reply {
  std::int32_t error = 0;  // 0, or the errno of the failed exec / clone
  std::int32_t pid = -1;   // > 0 whenever a child was created, even one whose exec failed
};

bool write_all(int fd, const void* data, std::size_t size) noexcept {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) noexcept {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

// path, argv..., env..., [cwd] as NUL-terminated strings, after a header
// that counts them. Neither argv nor env can hold a NUL (C strings).
std::string encode_request(const std::string& path, const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const char* cwd) {
  RequestHeader header;
  header.argc = static_cast<std::uint32_t>(argv.size());
  header.envc = static_cast<std::uint32_t>(env.size());
  header.has_cwd = cwd != nullptr;
  // The header goes in first as a placeholder and is filled in once the
  // body's size is known, so the body is built in place, not copied.
  std::string message(sizeof header, '\0');
  auto add = [&message](const char* text, std::size_t size) {
    message.append(text, size);
    message.push_back('\0');
  };
  add(path.c_str(), path.size());
  for (const auto& a : argv) add(a.c_str(), a.size());
  for (const auto& e : env) add(e.c_str(), e.size());
  if (cwd != nullptr) add(cwd, std::strlen(cwd));
  header.body_bytes = static_cast<std::uint32_t>(message.size() - sizeof header);
  std::memcpy(message.data(), &header, sizeof header);
  return message;
}

// ----------------------------------------------------------- spawner side

// What a child needs between clone and exec, and where it leaves the errno
// of a failed exec (the memory is shared until then).
struct ChildStart {
  const int* fds;
  char* path;
  char** argv;
  char** envp;
  const char* cwd;
  volatile int error;
};

// Room for the child's few calls before exec (glibc's posix_spawn uses a
// similar small stack).
constexpr std::size_t kChildStackBytes = 64 * 1024;

// The child, on its own stack but in the spawner's memory (CLONE_VM) while
// the calling thread waits (CLONE_VFORK), exactly as in glibc's posix_spawn.
// So: raw system calls only (other spawner threads may hold libc's locks),
// and no sanitizer instrumentation, which would update the waiting thread's
// state through the thread pointer both share. Signal state needs no work:
// the spawner ignores and blocks nothing, and exec resets its handlers.
__attribute__((no_sanitize("address", "thread", "undefined"))) int run_child(void* raw) noexcept {
  auto* start = static_cast<ChildStart*>(raw);
  // Until exec names it after its program: a child whose exec failed must
  // not pass for the spawner in ps (or in the tests).
  ::syscall(SYS_prctl, PR_SET_NAME, "wsbridge-exec", 0, 0, 0);
  // A process group of its own, as posix_spawn's POSIX_SPAWN_SETPGROUP.
  // dup3, not dup2 (absent on arm64); the ends are never 0-2, so never equal.
  if (::syscall(SYS_setpgid, 0, 0) != 0 || ::syscall(SYS_dup3, start->fds[kChildStdin], STDIN_FILENO, 0) < 0 ||
      ::syscall(SYS_dup3, start->fds[kChildStdout], STDOUT_FILENO, 0) < 0 ||
      ::syscall(SYS_dup3, start->fds[kChildStderr], STDERR_FILENO, 0) < 0 ||
      (start->cwd != nullptr && ::syscall(SYS_chdir, start->cwd) != 0)) {
    start->error = errno;
  } else {
    ::syscall(SYS_execve, start->path, start->argv, start->envp);
    start->error = errno;
  }
  ::syscall(SYS_exit_group, 127);
  return 127;
}

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WSBRIDGE_THREAD_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_THREAD__)
#define WSBRIDGE_THREAD_SANITIZER 1
#endif

using CloneFunction = int (*)(int (*)(void*), void*, int, void*, ...);

// ThreadSanitizer intercepts clone() and treats the child as a thread it
// must track, which breaks a CLONE_VM child that only execs (the spawner
// died in the TSan stage). Under TSan, take glibc's own clone.
CloneFunction libc_clone() noexcept {
#ifdef WSBRIDGE_THREAD_SANITIZER
  static const auto real = reinterpret_cast<CloneFunction>(::dlsym(RTLD_NEXT, "clone"));
  return real;
#else
  return &::clone;
#endif
}

// Starts one child as the server's (CLONE_PARENT) and returns once it has
// exec'd or failed to (CLONE_VFORK). No memory is copied (CLONE_VM), so
// the cost is that of the spawner's few descriptors, not its size.
Reply start_child(char* stack_top, const int fds[kRequestFds], char* path, char** argv, char** envp,
                  const char* cwd) noexcept {
  ChildStart start{fds, path, argv, envp, cwd, 0};
  Reply reply;
  // glibc's clone(), which runs on the classic clone system call, not
  // clone3 (container seccomp profiles answer clone3 with ENOSYS). The
  // child's exit signal is the spawner's own (SIGCHLD): CLONE_PARENT
  // children take their parent's.
  const int pid = libc_clone()(run_child, stack_top, CLONE_VM | CLONE_VFORK | CLONE_PARENT, &start);
  if (pid < 0) {
    reply.error = errno;
    return reply;
  }
  reply.pid = pid;
  reply.error = start.error;
  return reply;
}

// Reads one request from its private channel and answers it there.
void serve_request(char* stack_top, const int fds[kRequestFds]) noexcept {
  Reply reply;
  RequestHeader header;
  std::vector<char> body;
  std::vector<char*> strings;
  if (!read_all(fds[kReplyChannel], &header, sizeof header)) return;
  std::uint64_t count = std::uint64_t{1} + header.argc + header.envc + (header.has_cwd ? 1 : 0);
  if (header.magic != kRequestMagic || header.body_bytes > kMaxRequestBytes || count > header.body_bytes) {
    reply.error = E2BIG;
    (void)write_all(fds[kReplyChannel], &reply, sizeof reply);
    return;
  }
  try {
    body.resize(header.body_bytes);
    strings.reserve(count + 2);
  } catch (...) {
    reply.error = ENOMEM;
    (void)write_all(fds[kReplyChannel], &reply, sizeof reply);
    return;
  }
  if (!read_all(fds[kReplyChannel], body.data(), body.size())) return;
  // Split at the NULs; the count must match what the header promised.
  for (std::size_t at = 0; at < body.size();) {
    char* text = body.data() + at;
    const void* nul = std::memchr(text, '\0', body.size() - at);
    if (nul == nullptr) break;
    strings.push_back(text);
    at = static_cast<std::size_t>(static_cast<const char*>(nul) - body.data()) + 1;
  }
  if (strings.size() != count) {
    reply.error = EINVAL;
    (void)write_all(fds[kReplyChannel], &reply, sizeof reply);
    return;
  }
  const char* cwd = header.has_cwd ? strings.back() : nullptr;
  if (header.has_cwd) strings.pop_back();
  // strings: path, argv (argc), env (envc); NULL-terminate both lists in place.
  strings.insert(strings.begin() + 1 + header.argc, nullptr);
  strings.push_back(nullptr);
  char* path = strings[0];
  char** argv = strings.data() + 1;
  char** envp = strings.data() + 2 + header.argc;
  reply = start_child(stack_top, fds, path, argv, envp, cwd);
  (void)write_all(fds[kReplyChannel], &reply, sizeof reply);
}

// One spawner thread: takes requests off the shared control socket until the
// server closes its end.
void serve_requests(int control_fd) noexcept {
  // The stack this thread's children run on until exec; one child at a
  // time, since the thread waits for each (CLONE_VFORK).
  std::unique_ptr<char[]> child_stack(new (std::nothrow) char[kChildStackBytes]);
  if (!child_stack) return;
  // Stacks grow down on every architecture Linux runs wsbridge on.
  char* stack_top = child_stack.get() + kChildStackBytes;
  for (;;) {
    char tag;
    iovec iov{&tag, 1};
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * kRequestFds)];
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    ssize_t n = ::recvmsg(control_fd, &msg, MSG_CMSG_CLOEXEC);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) ::_exit(0);  // the server is gone
    int fds[kRequestFds] = {-1, -1, -1, -1};
    int received = 0;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      const int in_message = static_cast<int>((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < in_message; ++i) {
        int fd;
        std::memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        if (received < kRequestFds) {
          fds[received++] = fd;
        } else {
          ::close(fd);
        }
      }
    }
    if (received == kRequestFds && (msg.msg_flags & MSG_CTRUNC) == 0) {
      serve_request(stack_top, fds);
    } else if (received > 0) {
      // Some descriptors did not fit (our descriptor limit): say so on the
      // reply channel, which comes first, rather than leave the server
      // waiting. With none at all, the server reads end of file instead.
      Reply reply;
      reply.error = EPROTO;
      (void)write_all(fds[kReplyChannel], &reply, sizeof reply);
    }
    for (int fd : fds) {
      if (fd >= 0) ::close(fd);
    }
  }
}

void ignore_signal(int) noexcept {}

}  // namespace

void run_spawner(int control_fd, pid_t server_pid) noexcept {
  // Dies with the server, even if the server is SIGKILLed.
  ::prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (::getppid() != server_pid) ::_exit(0);
  ::prctl(PR_SET_NAME, "wsbridge-spawn");
  // Nothing but the control socket and 0-2: the descriptor table a clone
  // copies stays a few entries long.
  if (control_fd > 3) ::close_range(3, static_cast<unsigned>(control_fd) - 1, 0);
  ::close_range(static_cast<unsigned>(control_fd) + 1, ~0u, 0);
  // It came across exec without the flag; children must not get it.
  ::fcntl(control_fd, F_SETFD, FD_CLOEXEC);
  // Every disposition at its default, nothing blocked: children inherit
  // ignored signals and the mask, not handlers. A terminal's ^C and a
  // SIGHUP meant as "reload" (pkill -HUP wsbridge matches this name too)
  // must not end the spawner, so those get a handler that does nothing,
  // which exec then resets for the child. SIGTERM may end it.
  struct sigaction action {};
  action.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) {
    if (sig != SIGKILL && sig != SIGSTOP) ::sigaction(sig, &action, nullptr);
  }
  action.sa_handler = ignore_signal;
  action.sa_flags = SA_RESTART;
  for (int sig : {SIGINT, SIGHUP, SIGPIPE}) ::sigaction(sig, &action, nullptr);
  sigset_t empty;
  sigemptyset(&empty);
  ::sigprocmask(SIG_SETMASK, &empty, nullptr);
  try {
    for (int i = 1; i < kSpawnerThreads; ++i) std::thread(serve_requests, control_fd).detach();
  } catch (...) {
    // Fewer threads only means fewer children starting at once.
  }
  serve_requests(control_fd);
  ::_exit(0);
}


// ------------------------------------------------------------ server side

Spawner::~Spawner() { stop(); }

void Spawner::stop() noexcept {
  if (closing_.exchange(true)) return;
  // shutdown, not close: a pool thread may be inside sendmsg on this
  // descriptor, and a closed number could be reused under it. Blocked
  // senders and readers wake with an error and, seeing closing_, give up.
  if (control_fd_ >= 0) ::shutdown(control_fd_, SHUT_RDWR);
  if (const pid_t pid = pid_.exchange(-1); pid > 0) {
    // It has nothing to flush: end it at once rather than wait for it to
    // notice the socket.
    ::kill(pid, SIGKILL);
    reap_child(pid);
  }
}

int Spawner::start(pid_t server_pid) noexcept {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0) return errno;
  // Prepared before the fork: the child may only make async-signal-safe calls.
  const std::string pid_text = std::to_string(server_pid);
  char name[] = "wsbridge-spawn";
  char flag[sizeof kSpawnerArgument];
  std::memcpy(flag, kSpawnerArgument, sizeof flag);
  char* spawner_argv[] = {name, flag, const_cast<char*>(pid_text.c_str()), nullptr};
  // The server keeps SIGINT/SIGTERM/SIGHUP blocked (it reads them from a
  // signalfd), and ignores SIGPIPE. Every other signal stays blocked across
  // the fork until the child has put the defaults back, so nothing of the
  // server's handling can run in it; the spawner empties its mask once it
  // has set its own dispositions (run_spawner).
  sigset_t all, previous;
  ::sigfillset(&all);
  ::sigprocmask(SIG_SETMASK, &all, &previous);
  pid_t pid = ::fork();
  if (pid == 0) {
    struct sigaction default_action {};
    default_action.sa_handler = SIG_DFL;
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP}) ::sigaction(signal_number, &default_action, nullptr);
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  } else {
    ::sigprocmask(SIG_SETMASK, &previous, nullptr);
  }
  if (pid < 0) {
    int err = errno;
    ::close(sv[0]);
    ::close(sv[1]);
    return err;
  }
  if (pid == 0) {
    ::close(sv[0]);
    // The control socket becomes descriptor 3, kept across exec.
    if (sv[1] == kSpawnerControlFd) {
      ::fcntl(kSpawnerControlFd, F_SETFD, 0);
    } else {
      ::dup2(sv[1], kSpawnerControlFd);
    }
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    // A fresh image of this program: the spawner then holds none of the
    // server's memory (configuration, TLS private key) and is a few pages
    // for each clone to copy. Without /proc, it runs on in this copy.
    ::execve("/proc/self/exe", spawner_argv, environ);
    run_spawner(kSpawnerControlFd, server_pid);
  }
  ::close(sv[1]);
  control_fd_ = sv[0];
  pid_ = pid;
  usable_.store(true);
  return 0;
}

bool Spawner::spawner_hung_up() const noexcept {
  pollfd p{control_fd_, POLLOUT, 0};
  return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

void Spawner::note_spawner_gone(int err) noexcept {
  if (usable_.exchange(false)) {
    // Its end of the socket closed as it died: the wait is short. Until
    // reaped it would stay a zombie.
    if (const pid_t pid = pid_.exchange(-1); pid > 0) {
      ::kill(pid, SIGKILL);
      reap_child(pid);
    }
    log::write(log::LogLevel::Error, "server", "",
               std::string("The spawner process is gone (") + std::strerror(err) +
                   "); children are started by the server itself from now on");
  }
}

int Spawner::start_here_instead(const char* why, const std::string& path, const std::vector<std::string>& argv,
                                const std::vector<std::string>& env, SpawnedChild& out, const char* cwd) noexcept {
  if (closing_.load()) return ECANCELED;  // the server is exiting: start nothing new
  if (spawner_hung_up()) {
    note_spawner_gone(EPIPE);
  } else {
    log::write(log::LogLevel::Error, "server", "",
               std::string("The spawner did not take a request (") + why + "); this child is started by the server");
  }
  return spawn_child(path, argv, env, out, cwd);
}

int Spawner::spawn(const std::string& path, const std::vector<std::string>& argv,
                   const std::vector<std::string>& env, SpawnedChild& out, const char* cwd) noexcept {
  if (closing_.load()) return ECANCELED;
  if (!usable_.load(std::memory_order_relaxed)) return spawn_child(path, argv, env, out, cwd);
  std::string request;
  try {
    request = encode_request(path, argv, env, cwd);
  } catch (...) {
    return ENOMEM;
  }
  ChildPipes pipes;
  if (int err = pipes.open(); err != 0) return err;
  int channel[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, channel) != 0) {
    int err = errno;
    pipes.close_child_ends();
    pipes.close_parent_ends();
    return err;
  }

  int fds[kRequestFds];
  fds[kReplyChannel] = channel[1];
  fds[kChildStdin] = pipes.child_stdin;
  fds[kChildStdout] = pipes.child_stdout;
  fds[kChildStderr] = pipes.child_stderr;
  char tag = 'S';
  iovec iov{&tag, 1};
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof fds)];
  msghdr msg{};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = control;
  msg.msg_controllen = sizeof control;
  cmsghdr* c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof fds);
  std::memcpy(CMSG_DATA(c), fds, sizeof fds);
  ssize_t sent;
  do {
    sent = ::sendmsg(control_fd_, &msg, MSG_NOSIGNAL);
  } while (sent < 0 && errno == EINTR);
  const int send_error = sent < 0 ? errno : 0;
  // The spawner holds its own copies now (or will never need them).
  ::close(channel[1]);
  pipes.close_child_ends();
  if (send_error != 0) {
    ::close(channel[0]);
    pipes.close_parent_ends();
    return start_here_instead(std::strerror(send_error), path, argv, env, out, cwd);
  }

  // The answer is read even when writing the request failed: the spawner
  // answers a request it refuses (E2BIG) without reading all of it.
  Reply reply;
  (void)write_all(channel[0], request.data(), request.size());
  const bool answered = read_all(channel[0], &reply, sizeof reply);
  ::close(channel[0]);
  if (!answered) {
    // The spawner dropped the request, or died with it in hand. If it had
    // started the child already, that child is ours but its pid never
    // reached us: it loses its pipes now and is reaped only when the
    // server exits. Seen only when someone kills the spawner.
    pipes.close_parent_ends();
    return start_here_instead("no answer", path, argv, env, out, cwd);
  }
  if (reply.error != 0) {
    // The child exists only when its exec failed after the clone; it is
    // ours (CLONE_PARENT) and has exited already.
    if (reply.pid > 0) {
      reap_child(reply.pid);
    }
    pipes.close_parent_ends();
    return reply.error;
  }
  if (reply.pid <= 0) {
    // Never signal or wait for a pid we did not get: 0 or -1 would name our
    // own process group, or every process.
    pipes.close_parent_ends();
    return EPROTO;
  }
  return adopt_spawned_child(reply.pid, pipes, out);
}

}  // namespace wsbridge::proc
