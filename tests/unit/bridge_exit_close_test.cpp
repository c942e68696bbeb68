// How a program's ending becomes a close frame.
#include <catch2/catch.hpp>

#include <signal.h>

#include "wsbridge/bridge/exit_close.h"

using wsbridge::bridge::close_for_exit;
using wsbridge::bridge::ExitCodeMapping;

namespace {
// The wait statuses the kernel reports (glibc's layout, as W* macros read it).
int exited(int status) { return (status & 0xff) << 8; }
int killed(int signal) { return signal & 0x7f; }
}  // namespace

TEST_CASE("a clean exit is a normal closure", "[bridge_exit_close_test]") {
  for (auto mapping : {ExitCodeMapping::Standard, ExitCodeMapping::Private}) {
    auto close = close_for_exit(exited(0), mapping);
    CHECK(close.code == 1000);
    CHECK(close.reason.empty());
  }
}

TEST_CASE("a failing exit status says which", "[bridge_exit_close_test]") {
  auto close = close_for_exit(exited(3), ExitCodeMapping::Standard);
  CHECK(close.code == 1011);
  CHECK(close.reason == "exit status 3");
  close = close_for_exit(exited(3), ExitCodeMapping::Private);
  CHECK(close.code == 4003);
  CHECK(close.reason == "exit status 3");
  close = close_for_exit(exited(255), ExitCodeMapping::Private);
  CHECK(close.code == 4255);
}

TEST_CASE("a signal is named", "[bridge_exit_close_test]") {
  auto close = close_for_exit(killed(SIGSEGV), ExitCodeMapping::Private);
  CHECK(close.code == 1011);
  CHECK(close.reason == "killed by SIGSEGV");
  CHECK(close_for_exit(killed(SIGKILL), ExitCodeMapping::Standard).reason == "killed by SIGKILL");
  CHECK(close_for_exit(killed(SIGRTMIN + 1), ExitCodeMapping::Standard).reason.rfind("killed by", 0) == 0);
}
