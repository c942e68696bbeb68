// Maps a URL path to a file below --staticdir, never to a byte outside it.
// Pure: the filesystem is seen through an FsView.
#pragma once
#include <string>

#include "wsbridge/route/fs_view.h"

namespace wsbridge::route {

enum class StaticLookup {
  File,            // serve `file_path` (canonical)
  AddSlash,        // a folder asked for without its slash: 301 to `location`
  IndexRedirect,   // ".../index.html": 301 to `location` (the folder), as Go's FileServer
  DropSlash,       // a file asked for with a trailing slash: 301 to `location`
  NotFound,        // nothing there (or it resolves outside the root)
  Hidden,          // a path segment starts with '.': dotfiles are not served (#476)
  NoListing,       // a folder without index.html: listings are not served (#476)
  CgiSource,       // the file lies in --cgidir: scripts are run, never shown (#453)
  NotRegular,      // a device, FIFO or socket
};

struct StaticMatch {
  std::string file_path;  // File: canonical path of what to send
  std::string location;   // redirects: decoded absolute URL path to send the client to
};

// `decoded_path` is cleaned and percent-decoded ("/a/b.txt"), as the router
// has it after Go's ServeMux rules. `root` and `cgi_root` are the configured
// folders (cgi_root empty without --cgidir).
StaticLookup find_static_file(const std::string& root, const std::string& cgi_root,
                              const std::string& decoded_path, const FsView& fs, StaticMatch& match);

}  // namespace wsbridge::route
