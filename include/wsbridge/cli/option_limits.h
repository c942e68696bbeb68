// The ranges every numeric option is checked against at start-up, so that
// no value the code later adds to or multiplies can overflow. (--workers'
// cap, kMaxWorkers, is in config.h.)
#pragma once
#include <cstddef>
#include <cstdint>

namespace wsbridge::cli {

constexpr int kMaxPort = 65535;
// --closems, --pingms, --ping-interval and --shutdown-timeout: one day. The
// default shutdown deadline, 10 s + 3 x closems, still fits in 32 bits.
constexpr unsigned kMaxDelayMs = 24u * 60 * 60 * 1000;
// --maxmessage: 1 TiB, far above what fits in memory, yet far enough below
// 2^64 that the line splitter's "limit + 2" cannot wrap. 0 means unlimited.
constexpr std::uint64_t kMaxMessageLimit = std::uint64_t{1} << 40;
// --unixsocket: the longest path a sockaddr_un holds, less its NUL.
constexpr std::size_t kMaxUnixSocketPath = 107;
// --maxconn-per-client and --connect-rate: a million, more than one
// process can hold open or accept in a second.
constexpr long long kMaxPerClient = 1000000;
// --room-max-clients: a million, as the per-client limits.
constexpr long long kMaxRoomClients = 1000000;
// --room-replay: messages kept for joining clients; they are also bounded
// in bytes (kRoomReplayBytes in src/net/room.h).
constexpr long long kMaxRoomReplay = 100000;
// --room-queue: at least one read of output framed (64 KiB), at most 1 GiB.
constexpr std::uint64_t kMinRoomQueue = 64 * 1024;
constexpr std::uint64_t kMaxRoomQueue = std::uint64_t{1} << 30;
// --unixsocket-mode: permission bits plus setuid, setgid and sticky.
constexpr unsigned kMaxFileMode = 07777;

}  // namespace wsbridge::cli
