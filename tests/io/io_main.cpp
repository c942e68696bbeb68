// The io_tests main: first the spawner's entry, as src/main.cpp has it, since
// Spawner::start re-executes /proc/self/exe (this binary) as its spawner
// process; then the process set-up a server has that the tests rely on;
// then Catch.
#define CATCH_CONFIG_RUNNER
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/types.h>
#include <uv.h>

#include <cstdlib>
#include <cstring>

#include "proc/spawn.h"
#include "proc/spawner.h"

int main(int argc, char** argv) {
  if (argc == 3 && std::strcmp(argv[1], wsbridge::proc::kSpawnerArgument) == 0) {
    wsbridge::proc::run_spawner(wsbridge::proc::kSpawnerControlFd, static_cast<pid_t>(std::atol(argv[2])));
  }
  // As the server: a vanished peer must be an error value (EPIPE), not a
  // signal that ends the process.
  signal(SIGPIPE, SIG_IGN);
  // As the server does: descriptors inherited beyond 0-2 (from ctest, a
  // shell, a CI runner) must not reach the children the tests start; the
  // tests check that a child holds exactly 0, 1 and 2.
  wsbridge::proc::mark_inherited_descriptors_cloexec();
  // libuv's first uv_loop_init opens a pipe for the whole process (the
  // lock of its signal handling, src/unix/signal.c) that stays open: opened
  // here, so the tests' descriptor counts see only what they open.
  uv_loop_t first;
  if (uv_loop_init(&first) == 0) uv_loop_close(&first);
  return Catch::Session().run(argc, argv);
}
