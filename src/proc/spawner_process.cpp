#include "proc/spawner_process.h"

#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <exception>
#include <memory>
#include <new>
#include <thread>
#include <vector>

#include "proc/spawner_protocol.h"

namespace wsbridge::proc {
namespace {

using spawner_protocol::Answer;
using spawner_protocol::AnswerKind;
using spawner_protocol::kChildStderr;
using spawner_protocol::kChildStdin;
using spawner_protocol::kChildStdout;
using spawner_protocol::kMaxRequestBytes;
using spawner_protocol::kReplyChannel;
using spawner_protocol::kRequestFds;
using spawner_protocol::kRequestMagic;
using spawner_protocol::RequestHeader;

// Each spawner thread is held while its child execs (CLONE_VFORK), so this
// many children can be starting at once: as many as libuv's thread pool
// has threads by default, the callers' side of the same hand-off.
constexpr int kSpawnerThreads = 4;

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
  // First, so that the server can still find this child if the spawner is
  // stopped or killed before it answers: the server learns the pid from
  // here, and from the end of this channel (closed on exec) that the exec
  // is over. 12 bytes into an empty stream socket never block.
  Answer cloned;
  cloned.kind = AnswerKind::ChildCloned;
  cloned.pid = static_cast<std::int32_t>(::syscall(SYS_getpid));
  ::syscall(SYS_write, start->fds[kReplyChannel], &cloned, sizeof cloned);
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
  Answer failed;
  failed.kind = AnswerKind::ChildExecFailed;
  failed.error = start->error;
  failed.pid = cloned.pid;
  ::syscall(SYS_write, start->fds[kReplyChannel], &failed, sizeof failed);
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
Answer start_child(char* stack_top, const int fds[kRequestFds], char* path, char** argv, char** envp,
                  const char* cwd) noexcept {
  ChildStart start{fds, path, argv, envp, cwd, 0};
  Answer reply;
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
  Answer reply;
  RequestHeader header;
  std::vector<char> body;
  std::vector<char*> strings;
  if (!spawner_protocol::read_all(fds[kReplyChannel], &header, sizeof header)) return;
  std::uint64_t count = std::uint64_t{1} + header.argc + header.envc + (header.has_cwd ? 1 : 0);
  if (header.magic != kRequestMagic || header.body_bytes > kMaxRequestBytes || count > header.body_bytes) {
    reply.error = E2BIG;
    (void)spawner_protocol::write_all(fds[kReplyChannel], &reply, sizeof reply);
    return;
  }
  try {
    body.resize(header.body_bytes);
    strings.reserve(count + 2);
  } catch (const std::bad_alloc&) {
    reply.error = ENOMEM;
    (void)spawner_protocol::write_all(fds[kReplyChannel], &reply, sizeof reply);
    return;
  }
  if (!spawner_protocol::read_all(fds[kReplyChannel], body.data(), body.size())) return;
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
    (void)spawner_protocol::write_all(fds[kReplyChannel], &reply, sizeof reply);
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
  (void)spawner_protocol::write_all(fds[kReplyChannel], &reply, sizeof reply);
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
      Answer reply;
      reply.error = EPROTO;
      (void)spawner_protocol::write_all(fds[kReplyChannel], &reply, sizeof reply);
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
  } catch (const std::exception&) {  // std::system_error, or std::bad_alloc
    // Fewer threads only means fewer children starting at once.
  }
  serve_requests(control_fd);
  ::_exit(0);
}

}  // namespace wsbridge::proc
