// What the server and its spawner process say to each other (see
// spawner.h for one spawn seen from the server). Both sides are this same
// program, so the records are plain structs in host byte order.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace wsbridge::proc::spawner_protocol {

// A request larger than this is refused (E2BIG): argv and env are bounded by
// the request head long before this, so only a broken peer sends more.
inline constexpr std::uint32_t kMaxRequestBytes = 16u << 20;
inline constexpr std::uint32_t kRequestMagic = 0x77736231;  // "wsb1"
// The descriptors of one request, in this order on the control message.
inline constexpr int kReplyChannel = 0, kChildStdin = 1, kChildStdout = 2, kChildStderr = 3, kRequestFds = 4;

// Leads the request on the reply channel; the NUL-terminated strings follow.
struct RequestHeader {
  std::uint32_t magic = kRequestMagic;
  std::uint32_t body_bytes = 0;
  std::uint32_t argc = 0;
  std::uint32_t envc = 0;
  std::uint32_t has_cwd = 0;
};

// Records that come back on the reply channel. The child itself writes the
// first two, before its exec, so the server learns of a child even when the
// spawner stops before answering (it is killed then, and the server must
// neither lose that child nor start the program a second time).
enum class AnswerKind : std::int32_t {
  ChildCloned = 1,      // from the child: pid = its pid
  ChildExecFailed = 2,  // from the child: error = why it could not exec
  Done = 3,             // from the spawner, last: error (0 or errno), pid (> 0 if a child was made)
};

struct Answer {
  AnswerKind kind = AnswerKind::Done;
  std::int32_t error = 0;
  std::int32_t pid = -1;
};

// path, argv..., env..., [cwd] as NUL-terminated strings after a header that
// counts them. Neither argv nor env can hold a NUL (C strings).
std::string encode_request(const std::string& path, const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const char* cwd);

// Whole-buffer reads and writes on a blocking descriptor, through EINTR.
[[nodiscard]] bool write_all(int fd, const void* data, std::size_t size) noexcept;
[[nodiscard]] bool read_all(int fd, void* data, std::size_t size) noexcept;

}  // namespace wsbridge::proc::spawner_protocol
