#include "wsbridge/bridge/exit_close.h"

#include <string.h>
#include <sys/wait.h>

namespace wsbridge::bridge {
namespace {

constexpr std::uint16_t kNormalClosure = 1000;
constexpr std::uint16_t kInternalError = 1011;
constexpr std::uint16_t kPrivateBase = 4000;

}  // namespace

ExitClose close_for_exit(int wait_status, ExitCodeMapping mapping) {
  if (WIFEXITED(wait_status)) {
    const int status = WEXITSTATUS(wait_status);
    if (status == 0) return {kNormalClosure, {}};
    const std::uint16_t code = mapping == ExitCodeMapping::Private
                                   ? static_cast<std::uint16_t>(kPrivateBase + status)
                                   : kInternalError;
    return {code, "exit status " + std::to_string(status)};
  }
  if (WIFSIGNALED(wait_status)) {
    const int signal = WTERMSIG(wait_status);
    // sigabbrev_np: "SEGV" for SIGSEGV; null for numbers it does not name
    // (real-time signals), which are then given by number.
    const char* name = sigabbrev_np(signal);
    return {kInternalError,
            name != nullptr ? std::string("killed by SIG") + name : "killed by signal " + std::to_string(signal)};
  }
  // Stopped or continued are not endings; a caller passes only endings.
  return {kInternalError, "ended with wait status " + std::to_string(wait_status)};
}

}  // namespace wsbridge::bridge
