// The close frame that tells a client why the program behind its connection
// ended (websocketd sends none: its clients see 1006 and cannot tell a crash
// from a clean exit). Status 0 closes with 1000; a non-zero status with 1011
// "exit status N"; a signal with 1011 "killed by SIGSEGV". With
// ExitCodeMapping::Private a non-zero status N closes with 4000 + N instead
// (the range RFC 6455 §7.4.2 leaves to applications), for clients that act
// on the program's own exit codes.
#pragma once
#include <cstdint>
#include <string>

namespace wsbridge::bridge {

enum class ExitCodeMapping : std::uint8_t {
  Standard,  // 1011 for every failure
  Private,   // 4000 + exit status (0..255 → 4000..4255)
};

struct ExitClose {
  std::uint16_t code;
  std::string reason;  // at most 123 bytes, as a close frame allows
};

// `wait_status` as waitpid reports it.
ExitClose close_for_exit(int wait_status, ExitCodeMapping mapping);

}  // namespace wsbridge::bridge
