// websocketd's script lookup for --dir (and, here, --cgidir): walk the URL
// path one segment at a time below a root folder; the first regular file is
// the script and the remaining segments are PATH_INFO.
#pragma once
#include <optional>
#include <string>

#include "wsbridge/route/fs_view.h"

namespace wsbridge::route {

struct ScriptMatch {
  std::string file_path;    // root + SCRIPT_NAME, symlinks not resolved (argv[0])
  std::string script_name;  // "/sub/deep.sh"
  std::string path_info;    // decoded rest: "" or "/x/y" ("/" for a trailing slash)
};

enum class ScriptLookup {
  Found,
  NotFound,  // nothing there, a folder, or not a regular file
  Escapes,   // the file resolves (through a symlink) to outside the root
};

// `decoded_path` is the cleaned, percent-decoded URL path ("/a/b"). `root`
// is the folder as configured (absolute). Follows websocketd 0.4.1
// (handler.go GetURLInfo): "/", "/sub" and "/sub/" are not found, dotfiles
// are reachable; unlike 0.4.1 a script whose real path is outside the
// root's real path is refused (websocketd's main branch checkPathBoundary).
ScriptLookup find_script(const std::string& root, const std::string& decoded_path, const FsView& fs,
                         ScriptMatch& match);

}  // namespace wsbridge::route
