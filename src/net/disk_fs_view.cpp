#include "net/disk_fs_view.h"

#include <sys/stat.h>

#include <climits>
#include <cstdlib>

namespace wsbridge::net {

route::FileKind DiskFsView::kind_of(const std::string& path) const {
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return route::FileKind::Missing;
  if (S_ISDIR(info.st_mode)) return route::FileKind::Directory;
  if (S_ISREG(info.st_mode)) return route::FileKind::Regular;
  return route::FileKind::Other;
}

std::optional<std::string> DiskFsView::real_path(const std::string& path) const {
  char resolved[PATH_MAX];
  if (::realpath(path.c_str(), resolved) == nullptr) return std::nullopt;
  return std::string(resolved);
}

}  // namespace wsbridge::net
