// An in-memory FsView for routing tests: a set of paths with their kinds,
// plus "links" whose real path is somewhere else.
#pragma once
#include <map>
#include <optional>
#include <string>

#include "wsbridge/route/fs_view.h"

namespace test_support {

class FakeFs final : public wsbridge::route::FsView {
 public:
  FakeFs& dir(const std::string& path) {
    kinds_[path] = wsbridge::route::FileKind::Directory;
    return *this;
  }
  FakeFs& file(const std::string& path) {
    kinds_[path] = wsbridge::route::FileKind::Regular;
    return *this;
  }
  FakeFs& other(const std::string& path) {
    kinds_[path] = wsbridge::route::FileKind::Other;
    return *this;
  }
  // `path` is a symlink to the existing entry `target` (its kind is the target's).
  FakeFs& link(const std::string& path, const std::string& target) {
    kinds_[path] = kind_of(target);
    links_[path] = target;
    return *this;
  }

  wsbridge::route::FileKind kind_of(const std::string& path) const override {
    auto found = kinds_.find(resolve(strip(path)));
    return found == kinds_.end() ? wsbridge::route::FileKind::Missing : found->second;
  }
  std::optional<std::string> real_path(const std::string& path) const override {
    std::string real = resolve(strip(path));
    if (kinds_.count(real) == 0) return std::nullopt;
    return real;
  }

 private:
  // Replaces the longest linked prefix, as realpath would (links point at
  // canonical targets, so one pass is enough).
  std::string resolve(const std::string& p) const {
    for (auto it = links_.rbegin(); it != links_.rend(); ++it) {
      const std::string& from = it->first;
      if (p == from || (p.size() > from.size() && p.compare(0, from.size(), from) == 0 && p[from.size()] == '/')) {
        return it->second + p.substr(from.size());
      }
    }
    return p;
  }
  static std::string strip(std::string path) {
    while (path.size() > 1 && path.back() == '/') path.pop_back();
    return path;
  }
  std::map<std::string, wsbridge::route::FileKind> kinds_;
  std::map<std::string, std::string> links_;
};

}  // namespace test_support
