// Starts a child process with posix_spawn. glibc implements it with
// clone(CLONE_VM | CLONE_VFORK), so the cost of a spawn does not grow with the
// server's memory as fork's page-table copy does (see design.md, rule 13).
#pragma once
#include <sys/types.h>

#include <string>
#include <vector>

namespace wsbridge::proc {

struct SpawnedChild {
  pid_t pid = -1;      // its exit is reported by the ChildReaper
  int stdin_fd = -1;   // parent's write end, non-blocking, close-on-exec
  int stdout_fd = -1;  // parent's read end, non-blocking, close-on-exec
  int stderr_fd = -1;  // parent's read end, non-blocking, close-on-exec
};

// Runs `path` with `argv` and `env` ("NAME=value"). The child gets three fresh
// pipes as descriptors 0, 1 and 2 and no other descriptor (everything else the
// server holds is close-on-exec), default signal dispositions, an empty signal
// mask, and a process group of its own so its whole group can be signalled.
// `cwd`, when not null, is the child's working directory (CGI scripts run in
// their own folder); otherwise it inherits the server's.
// Returns 0, or an errno value (ENOENT, EACCES, EMFILE...) with nothing left open.
[[nodiscard]] int spawn_child(const std::string& path, const std::vector<std::string>& argv,
                              const std::vector<std::string>& env, SpawnedChild& out,
                              const char* cwd = nullptr) noexcept;

// The three pipes of a child being started. Every end is close-on-exec: the
// child's ends are dup2'ed onto 0/1/2 (dup2 clears the flag on the copy) and
// the originals vanish at exec.
struct ChildPipes {
  int child_stdin = -1, parent_stdin = -1;    // the child reads, the server writes
  int parent_stdout = -1, child_stdout = -1;  // the child writes, the server reads
  int parent_stderr = -1, child_stderr = -1;

  // Returns 0 or an errno value with nothing left open.
  [[nodiscard]] int open() noexcept;
  // Once the child holds its copies (or will never exist).
  void close_child_ends() noexcept;
  void close_parent_ends() noexcept;
};

// Finishes a spawn both launchers share: tells the ChildReaper a child
// exists, makes the server's pipe ends non-blocking and hands them and
// `pid` (a child of this process) to `out`. Returns 0.
[[nodiscard]] int adopt_spawned_child(pid_t pid, ChildPipes& pipes, SpawnedChild& out) noexcept;

// Waits for `pid`, a child of this process that has been told to end (or
// has ended), and reaps it; retried through signal interruptions. When the
// ChildReaper reaped it first, returns at once and drops what it kept.
void reap_child(pid_t pid) noexcept;

// Ends a child nobody will talk to (SIGKILL to its process group), reaps
// it, and closes its descriptors. Blocks only for the reap of a SIGKILLed
// process.
void discard_child(SpawnedChild& child) noexcept;

// Marks every descriptor above 2 that this process inherited (a
// supervisor's sockets, a shell's or a CI runner's descriptors) close-on-exec,
// so that none reaches a child: spawn_child's "no other descriptor" holds
// only for descriptors that are close-on-exec. Call once at start-up.
void mark_inherited_descriptors_cloexec() noexcept;

// Finds an executable like a shell (and Go's exec.LookPath) does: a name with
// a '/' is taken as a path; otherwise each PATH entry is tried. The result is
// made absolute against the current directory. Returns "" when not found.
std::string find_executable(const std::string& name, const char* path_env);

}  // namespace wsbridge::proc
