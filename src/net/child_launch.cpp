#include "net/child_launch.h"

#include <cerrno>

namespace wsbridge::net {

void ChildLaunch::start(uv_loop_t* loop, proc::Spawner& spawner, Owner& owner, LaunchQueue* queue) noexcept {
  loop_ = loop;
  owner_ = &owner;
  spawner_ = &spawner;
  queue_ = queue;
  if (queue_ != nullptr) {
    queue_->submit(*this);
  } else {
    run();
  }
}

void ChildLaunch::run() noexcept {
  // The last moment on the loop to notice that nobody wants the child (the
  // client left while the launch waited). The cancellation still goes
  // through the pool, so the owner hears of it later, as of any launch, and
  // never from inside the call that started it.
  cancelled_ = !owner_->launch_still_wanted();
  work_.data = this;
  (void)uv_queue_work(loop_, &work_, &ChildLaunch::spawn_on_pool_thread, &ChildLaunch::on_spawned);
}

void ChildLaunch::spawn_on_pool_thread(uv_work_t* work) noexcept {
  // On a pool thread: touches nothing but this launch (the spawner is
  // thread-safe).
  auto* self = static_cast<ChildLaunch*>(work->data);
  if (self->cancelled_) {
    self->error = ECANCELED;
    return;
  }
  self->error = self->spawner_->spawn(self->path, self->argv, self->env, self->child,
                                      self->cwd.empty() ? nullptr : self->cwd.c_str());
}

void ChildLaunch::on_spawned(uv_work_t* work, int /*status*/) noexcept {
  // status is never UV_ECANCELED: nothing calls uv_cancel on a launch.
  auto* self = static_cast<ChildLaunch*>(work->data);
  // The next launch goes first: the owner may destroy this one in its
  // callback, so nothing here after it.
  if (self->queue_ != nullptr) self->queue_->on_launch_done();
  self->owner_->on_child_launched();
}

}  // namespace wsbridge::net
