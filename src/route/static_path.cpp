#include "wsbridge/route/static_path.h"

#include "wsbridge/http/url.h"

#include <string_view>

namespace wsbridge::route {
namespace {

constexpr std::string_view kIndexFile = "index.html";

bool has_hidden_segment(std::string_view path) noexcept {
  for (std::size_t at = 0; at < path.size(); ++at) {
    if (path[at] == '/' && at + 1 < path.size() && path[at + 1] == '.') return true;
  }
  return false;
}

bool ends_with(std::string_view text, std::string_view suffix) noexcept {
  return text.size() >= suffix.size() && text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Canonical path of `path` when it lies inside the canonical `root`.
std::optional<std::string> confined(const std::string& path, const std::string& real_root, const FsView& fs) {
  std::optional<std::string> real = fs.real_path(path);
  if (!real || !is_within(*real, real_root)) return std::nullopt;
  return real;
}

bool inside_cgi_root(const std::string& real_file, const std::string& cgi_root, const FsView& fs) {
  if (cgi_root.empty()) return false;
  const std::optional<std::string> real_cgi = fs.real_path(cgi_root);
  return real_cgi && is_within(real_file, *real_cgi);
}

StaticLookup serve_file(const std::string& path, const std::string& real_root, const std::string& cgi_root,
                        const FsView& fs, StaticMatch& match) {
  std::optional<std::string> real = confined(path, real_root, fs);
  if (!real) return StaticLookup::NotFound;
  if (inside_cgi_root(*real, cgi_root, fs)) return StaticLookup::CgiSource;
  match.file_path = std::move(*real);
  return StaticLookup::File;
}

}  // namespace

StaticLookup find_static_file(const std::string& root, const std::string& cgi_root,
                              const std::string& requested_path, const FsView& fs, StaticMatch& match) {
  // The router has already redirected unclean paths, so this is a no-op
  // there; cleaning again keeps this function safe on its own: "//x" must
  // never become a redirect to "//x/", which a browser reads as host "x"
  // (found by tests/fuzz/static_path_fuzz.cpp).
  const std::string decoded_path = http::clean_path(requested_path);
  // Refused before anything is looked at, so the answer does not tell
  // whether such a file exists. A NUL was refused with 400 by the router.
  if (has_hidden_segment(decoded_path)) return StaticLookup::Hidden;
  const std::optional<std::string> real_root = fs.real_path(root);
  if (!real_root) return StaticLookup::NotFound;

  // Go's FileServer sends ".../index.html" to the folder, so each page has
  // one URL.
  if (ends_with(decoded_path, "/index.html")) {
    match.location = decoded_path.substr(0, decoded_path.size() - kIndexFile.size());
    return StaticLookup::IndexRedirect;
  }

  // Looked up without the trailing slash, as Go's http.Dir cleans the name
  // before opening it ("/a.txt/" finds the file a.txt, which is redirected).
  const bool trailing_slash = !decoded_path.empty() && decoded_path.back() == '/';
  std::string path = root;
  while (!path.empty() && path.back() == '/') path.pop_back();
  path += decoded_path;
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  switch (fs.kind_of(path)) {
    case FileKind::Missing:
      return StaticLookup::NotFound;
    case FileKind::Other:
      return confined(path, *real_root, fs) ? StaticLookup::NotRegular : StaticLookup::NotFound;
    case FileKind::Regular:
      if (trailing_slash) {
        if (!confined(path, *real_root, fs)) return StaticLookup::NotFound;
        match.location = decoded_path.substr(0, decoded_path.size() - 1);
        return StaticLookup::DropSlash;
      }
      return serve_file(path, *real_root, cgi_root, fs, match);
    case FileKind::Directory: {
      if (!confined(path, *real_root, fs)) return StaticLookup::NotFound;
      if (!trailing_slash) {
        match.location = decoded_path + "/";
        return StaticLookup::AddSlash;
      }
      const std::string index = path + "/" + std::string(kIndexFile);
      if (fs.kind_of(index) != FileKind::Regular) return StaticLookup::NoListing;
      return serve_file(index, *real_root, cgi_root, fs, match);
    }
  }
  return StaticLookup::NotFound;
}

}  // namespace wsbridge::route
