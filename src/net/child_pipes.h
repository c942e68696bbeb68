// Wrapping a spawned child's three pipe ends in libuv handles, shared by
// the two owners of a child: a WebSocket Connection and a CgiResponder.
#pragma once
#include <uv.h>

#include <utility>

#include "proc/spawn.h"

namespace wsbridge::net {

// One of the owner's pipe handles and the flag that says it is closed.
struct ChildPipeSlot {
  uv_pipe_t* pipe;
  bool* closed;
};

// Opens the server's ends of `spawned`'s stdin, stdout and stderr in the
// owner's three handles (data = owner) and marks them open. The owner counts
// kChildPipeHandles more open handles (design.md rule 4: it closes each one
// and frees itself after the last).
constexpr unsigned kChildPipeHandles = 3;
inline void open_child_pipes(uv_loop_t* loop, const proc::SpawnedChild& spawned, void* owner,
                            ChildPipeSlot in, ChildPipeSlot out, ChildPipeSlot err) noexcept {
  for (auto [slot, fd] : {std::pair{in, spawned.stdin_fd}, std::pair{out, spawned.stdout_fd},
                          std::pair{err, spawned.stderr_fd}}) {
    uv_pipe_init(loop, slot.pipe, 0);
    slot.pipe->data = owner;
    *slot.closed = false;
    uv_pipe_open(slot.pipe, fd);
  }
}

}  // namespace wsbridge::net
