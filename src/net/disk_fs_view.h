// The router's view of the real disk: stat(2) and realpath(3).
#pragma once
#include "wsbridge/route/fs_view.h"

namespace wsbridge::net {

class DiskFsView final : public route::FsView {
 public:
  route::FileKind kind_of(const std::string& path) const override;
  std::optional<std::string> real_path(const std::string& path) const override;
};

}  // namespace wsbridge::net
