// systemd integration through its documented environment protocols, with
// no libsystemd dependency (the protocols are two env variables and a
// datagram): sd_notify(3) readiness/status/watchdog messages and
// sd_listen_fds(3) socket activation. Outside systemd every call is a no-op.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge::net::systemd {

// Sends `state` ("READY=1", "STOPPING=1", "STATUS=...", "WATCHDOG=1") to
// $NOTIFY_SOCKET. Returns false when there is no socket or sending failed.
bool notify(std::string_view state) noexcept;

// The watchdog interval systemd expects pings within (WatchdogSec=), from
// WATCHDOG_USEC when WATCHDOG_PID is unset or ours; 0 when not requested.
std::uint64_t watchdog_interval_usec() noexcept;

struct InheritedSocket {
  int fd = -1;
  std::string name;  // from LISTEN_FDNAMES; "" when not given
};

// The listening sockets systemd passed (LISTEN_FDS, starting at fd 3) when
// LISTEN_PID is ours. The variables are removed from the environment so
// children cannot mistake them for their own; the descriptors are marked
// close-on-exec.
std::vector<InheritedSocket> take_listen_fds();

}  // namespace wsbridge::net::systemd
