#include "wsbridge/cli/readable_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace wsbridge::cli {
namespace {

// Why `path` cannot be read as a file, or "" when it can. O_NONBLOCK keeps a
// FIFO given by mistake from blocking start-up until a writer appears.
std::string unreadable_reason(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::strerror(errno);
  struct stat info {};
  std::string reason;
  if (fstat(fd, &info) != 0) {
    reason = std::strerror(errno);
  } else if (S_ISDIR(info.st_mode)) {
    reason = std::strerror(EISDIR);
  } else if (!S_ISREG(info.st_mode)) {
    reason = "not a regular file";
  }
  close(fd);
  return reason;
}

}  // namespace

std::string first_unreadable_file(const Config& config) {
  const std::pair<const char*, const std::string*> files[] = {
      {"--sslcert", &config.sslcert}, {"--sslkey", &config.sslkey}, {"--sslca", &config.sslca}};
  for (const auto& [option, path] : files) {
    if (path->empty()) continue;
    const std::string reason = unreadable_reason(*path);
    if (!reason.empty()) return std::string(option) + "=" + *path + ": " + reason;
  }
  return {};
}

}  // namespace wsbridge::cli
