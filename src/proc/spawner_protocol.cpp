#include "proc/spawner_protocol.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wsbridge::proc::spawner_protocol {

bool write_all(int fd, const void* data, std::size_t size) noexcept {
  const char* p = static_cast<const char*>(data);
  while (size > 0) {
    ssize_t n = ::write(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

bool read_all(int fd, void* data, std::size_t size) noexcept {
  char* p = static_cast<char*>(data);
  while (size > 0) {
    ssize_t n = ::read(fd, p, size);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= static_cast<std::size_t>(n);
  }
  return true;
}

std::string encode_request(const std::string& path, const std::vector<std::string>& argv,
                           const std::vector<std::string>& env, const char* cwd) {
  RequestHeader header;
  header.argc = static_cast<std::uint32_t>(argv.size());
  header.envc = static_cast<std::uint32_t>(env.size());
  header.has_cwd = cwd != nullptr;
  // The header goes in first as a placeholder and is filled in once the
  // body's size is known, so the body is built in place, not copied.
  std::string message(sizeof header, '\0');
  auto add = [&message](const char* text, std::size_t size) {
    message.append(text, size);
    message.push_back('\0');
  };
  add(path.c_str(), path.size());
  for (const auto& a : argv) add(a.c_str(), a.size());
  for (const auto& e : env) add(e.c_str(), e.size());
  if (cwd != nullptr) add(cwd, std::strlen(cwd));
  header.body_bytes = static_cast<std::uint32_t>(message.size() - sizeof header);
  std::memcpy(message.data(), &header, sizeof header);
  return message;
}

}  // namespace wsbridge::proc::spawner_protocol
