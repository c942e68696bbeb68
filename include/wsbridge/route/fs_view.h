// The little of the filesystem that routing needs to see, behind an
// interface so the router stays a pure decision: production passes a view of
// the real disk (net/disk_fs_view.h), unit tests pass a fake tree.
#pragma once
#include <optional>
#include <string>

namespace wsbridge::route {

enum class FileKind { Missing, Directory, Regular, Other };

class FsView {
 public:
  // What `path` is, following symlinks as stat(2) does. Anything that cannot
  // be stat'ed (absent, no permission, a dangling link) is Missing.
  virtual FileKind kind_of(const std::string& path) const = 0;
  // The canonical absolute path (every symlink, "." and ".." resolved), as
  // realpath(3); nullopt when it cannot be resolved.
  virtual std::optional<std::string> real_path(const std::string& path) const = 0;

 protected:
  ~FsView() = default;
};

// A view in which nothing exists: for COMMAND mode, which never looks.
class EmptyFsView final : public FsView {
 public:
  FileKind kind_of(const std::string&) const override { return FileKind::Missing; }
  std::optional<std::string> real_path(const std::string&) const override { return std::nullopt; }
};

// True when canonical path `path` is `root` or lies below it ("/srv/a" is
// not inside "/srv/ab"). Both must already be canonical.
bool is_within(const std::string& path, const std::string& root) noexcept;

}  // namespace wsbridge::route
