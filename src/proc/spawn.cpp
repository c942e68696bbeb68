#include "proc/spawn.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <climits>
#include <new>
#include <utility>

#include "proc/child_reaper.h"

namespace wsbridge::proc {
namespace {

// Closes every descriptor of a half-built spawn, keeping errno intact.
void close_all(std::initializer_list<int*> fds) noexcept {
  int saved = errno;
  for (int* fd : fds) {
    if (*fd >= 0) ::close(*fd);
    *fd = -1;
  }
  errno = saved;
}

bool is_executable_file(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(path.c_str(), X_OK) == 0;
}

std::string make_absolute(const std::string& path) {
  if (!path.empty() && path[0] == '/') return path;
  char cwd[PATH_MAX];
  if (::getcwd(cwd, sizeof cwd) == nullptr) return path;
  std::string result = cwd;
  std::string_view rest = path;
  while (rest.substr(0, 2) == "./") rest.remove_prefix(2);
  result.push_back('/');
  result.append(rest);
  return result;
}

}  // namespace

void reap_child(pid_t pid) noexcept {
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
  ChildReaper::forget(pid);
}

void discard_child(SpawnedChild& child) noexcept {
  if (child.pid > 0) {
    ::kill(-child.pid, SIGKILL);
    reap_child(child.pid);
  }
  close_all({&child.stdin_fd, &child.stdout_fd, &child.stderr_fd});
  child.pid = -1;
}

void mark_inherited_descriptors_cloexec() noexcept {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return;
  const int dir_fd = dirfd(dir);
  while (dirent* entry = readdir(dir)) {
    const int fd = std::atoi(entry->d_name);
    if (fd > 2 && fd != dir_fd) fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
  }
  closedir(dir);
}

std::string find_executable(const std::string& name, const char* path_env) {
  if (name.empty()) return {};
  if (name.find('/') != std::string::npos) {
    return is_executable_file(name) ? make_absolute(name) : std::string();
  }
  std::string_view dirs = path_env ? path_env : "/usr/local/bin:/usr/bin:/bin";
  while (true) {
    size_t colon = dirs.find(':');
    std::string_view dir = dirs.substr(0, colon);
    // An empty PATH entry means the current directory (POSIX).
    std::string candidate = dir.empty() ? std::string(".") : std::string(dir);
    candidate.push_back('/');
    candidate.append(name);
    if (is_executable_file(candidate)) return make_absolute(candidate);
    if (colon == std::string_view::npos) break;
    dirs.remove_prefix(colon + 1);
  }
  return {};
}

int ChildPipes::open() noexcept {
  int in_pipe[2] = {-1, -1}, out_pipe[2] = {-1, -1}, err_pipe[2] = {-1, -1};
  // The server keeps descriptors 0-2 open (main.cpp), so no end can be one
  // of them and need dup2 onto itself in the child.
  if (::pipe2(in_pipe, O_CLOEXEC) != 0 || ::pipe2(out_pipe, O_CLOEXEC) != 0 ||
      ::pipe2(err_pipe, O_CLOEXEC) != 0) {
    int err = errno;
    close_all({&in_pipe[0], &in_pipe[1], &out_pipe[0], &out_pipe[1], &err_pipe[0], &err_pipe[1]});
    return err;
  }
  child_stdin = in_pipe[0];
  parent_stdin = in_pipe[1];
  parent_stdout = out_pipe[0];
  child_stdout = out_pipe[1];
  parent_stderr = err_pipe[0];
  child_stderr = err_pipe[1];
  return 0;
}

void ChildPipes::close_child_ends() noexcept { close_all({&child_stdin, &child_stdout, &child_stderr}); }

void ChildPipes::close_parent_ends() noexcept { close_all({&parent_stdin, &parent_stdout, &parent_stderr}); }

int adopt_spawned_child(pid_t pid, ChildPipes& pipes, SpawnedChild& out) noexcept {
  pipes.close_child_ends();
  ChildReaper::note_child_started();
  for (int fd : {pipes.parent_stdin, pipes.parent_stdout, pipes.parent_stderr}) {
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  }
  out.pid = pid;
  out.stdin_fd = std::exchange(pipes.parent_stdin, -1);
  out.stdout_fd = std::exchange(pipes.parent_stdout, -1);
  out.stderr_fd = std::exchange(pipes.parent_stderr, -1);
  return 0;
}

int spawn_child(const std::string& path, const std::vector<std::string>& argv,
                const std::vector<std::string>& env, SpawnedChild& out, const char* cwd) noexcept {
  ChildPipes pipes;
  if (int err = pipes.open(); err != 0) return err;

  std::vector<char*> c_argv;
  std::vector<char*> c_env;
  try {
    c_argv.reserve(argv.size() + 1);
    for (const auto& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    c_env.reserve(env.size() + 1);
    for (const auto& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
    c_env.push_back(nullptr);
  } catch (const std::bad_alloc&) {
    pipes.close_child_ends();
    pipes.close_parent_ends();
    return ENOMEM;
  }

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_adddup2(&actions, pipes.child_stdin, STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipes.child_stdout, STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&actions, pipes.child_stderr, STDERR_FILENO);
  // glibc 2.29+; a folder that cannot be entered fails the spawn (ENOENT, EACCES).
  if (cwd != nullptr) posix_spawn_file_actions_addchdir_np(&actions, cwd);

  // The server ignores SIGPIPE and handles SIGINT/SIGTERM/SIGHUP; a child must
  // start with every disposition at its default and nothing blocked, as if
  // started from a shell.
  sigset_t defaults, empty;
  sigfillset(&defaults);
  sigdelset(&defaults, SIGKILL);
  sigdelset(&defaults, SIGSTOP);
  sigemptyset(&empty);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &empty);
  // A process group of its own: the whole group (grandchildren too) is
  // signalled when the connection ends (websocketd issue #191).
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK |
                                      POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_USEVFORK);

  pid_t pid = -1;
  // glibc reports exec failures (ENOENT, EACCES, ENOEXEC) as the return value.
  int err = ::posix_spawn(&pid, path.c_str(), &actions, &attr, c_argv.data(), c_env.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (err != 0) {
    pipes.close_child_ends();
    pipes.close_parent_ends();
    return err;
  }
  return adopt_spawned_child(pid, pipes, out);
}

}  // namespace wsbridge::proc
