#include "net/child_launch.h"

namespace wsbridge::net {

void ChildLaunch::start(uv_loop_t* loop, proc::Spawner& spawner, Owner& owner) noexcept {
  owner_ = &owner;
  spawner_ = &spawner;
  work_.data = this;
  (void)uv_queue_work(loop, &work_, &ChildLaunch::spawn_on_pool_thread, &ChildLaunch::on_spawned);
}

void ChildLaunch::spawn_on_pool_thread(uv_work_t* work) noexcept {
  // On a pool thread: touches nothing but this launch (the spawner is
  // thread-safe).
  auto* self = static_cast<ChildLaunch*>(work->data);
  self->error = self->spawner_->spawn(self->path, self->argv, self->env, self->child,
                                      self->cwd.empty() ? nullptr : self->cwd.c_str());
}

void ChildLaunch::on_spawned(uv_work_t* work, int /*status*/) noexcept {
  // status is never UV_ECANCELED: nothing calls uv_cancel on a launch.
  // The owner may destroy the launch in the callback: nothing here after it.
  static_cast<ChildLaunch*>(work->data)->owner_->on_child_launched();
}

}  // namespace wsbridge::net
