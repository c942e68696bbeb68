#include "wsbridge/route/script_path.h"

#include <string_view>

namespace wsbridge::route {

bool is_within(const std::string& path, const std::string& root) noexcept {
  if (root == "/") return !path.empty() && path.front() == '/';
  if (path.size() < root.size() || path.compare(0, root.size(), root) != 0) return false;
  return path.size() == root.size() || path[root.size()] == '/';
}

ScriptLookup find_script(const std::string& root, const std::string& decoded_path, const FsView& fs,
                         ScriptMatch& match) {
  std::string_view rest = decoded_path;
  if (!rest.empty() && rest.front() == '/') rest.remove_prefix(1);
  std::string file_path = root;
  while (!file_path.empty() && file_path.back() == '/') file_path.pop_back();
  std::string script_name;
  // Each pass consumes one segment; the path is finite, so is the loop.
  while (true) {
    const std::size_t slash = rest.find('/');
    const std::string_view segment = rest.substr(0, slash);
    const bool last = slash == std::string_view::npos;
    file_path += '/';
    file_path.append(segment.data(), segment.size());
    script_name += '/';
    script_name.append(segment.data(), segment.size());
    const FileKind kind = fs.kind_of(file_path);
    if (kind == FileKind::Regular) {
      const std::optional<std::string> real_file = fs.real_path(file_path);
      const std::optional<std::string> real_root = fs.real_path(root);
      if (!real_file || !real_root || !is_within(*real_file, *real_root)) return ScriptLookup::Escapes;
      match.file_path = std::move(file_path);
      match.script_name = std::move(script_name);
      match.path_info = last ? std::string() : std::string(rest.substr(slash));
      return ScriptLookup::Found;
    }
    // A folder is walked into unless it is the last segment: websocketd has
    // no index script, so "/" and "/sub/" are not found.
    if (kind != FileKind::Directory || last) return ScriptLookup::NotFound;
    rest.remove_prefix(slash + 1);
  }
}

}  // namespace wsbridge::route
