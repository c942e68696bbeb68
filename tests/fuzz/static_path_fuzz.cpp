// Fuzzes the --staticdir path resolver against a fake tree with symlinks that
// lead out of the root, into --cgidir, and in loops. Invariants: whatever
// the path, a File result is inside the root and outside the CGI folder, is
// a regular file, and no dot-segment was served; redirects stay absolute
// paths on this server ("/..."), never "//host".
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "fuzz_input.h"
#include "wsbridge/http/url.h"
#include "wsbridge/route/fs_view.h"
#include "wsbridge/route/static_path.h"

using wsbridge::fuzz::FuzzInput;
using wsbridge::route::FileKind;
using wsbridge::route::FsView;
using wsbridge::route::StaticLookup;
using wsbridge::route::StaticMatch;

namespace {

// A tiny tree: paths map to (kind, canonical path). Symlinks are entries
// whose canonical path differs from their own.
class FakeTree final : public FsView {
 public:
  FakeTree() {
    dir("/srv");
    dir("/srv/www");
    file("/srv/www/index.html");
    file("/srv/www/a.txt");
    dir("/srv/www/sub");
    file("/srv/www/sub/index.html");
    dir("/srv/www/empty");
    file("/srv/www/.env");
    dir("/srv/www/.git");
    file("/srv/www/.git/config");
    dir("/srv/www/cgi");
    file("/srv/www/cgi/run.sh");
    file("/srv/secret.txt");
    link("/srv/www/escape", "/srv/secret.txt", FileKind::Regular);
    link("/srv/www/updir", "/srv", FileKind::Directory);
    link("/srv/www/inside", "/srv/www/a.txt", FileKind::Regular);
    link("/srv/www/tocgi", "/srv/www/cgi/run.sh", FileKind::Regular);
    entries_["/srv/www/fifo"] = {FileKind::Other, "/srv/www/fifo"};
  }
  FileKind kind_of(const std::string& path) const override {
    auto real = resolve(path);
    if (!real) return FileKind::Missing;
    auto it = entries_.find(*real);
    return it == entries_.end() ? FileKind::Missing : it->second.kind;
  }
  std::optional<std::string> real_path(const std::string& path) const override { return resolve(path); }

 private:
  struct Entry {
    FileKind kind;
    std::string real;
  };
  void dir(const std::string& p) { entries_[p] = {FileKind::Directory, p}; }
  void file(const std::string& p) { entries_[p] = {FileKind::Regular, p}; }
  void link(const std::string& p, const std::string& target, FileKind) { entries_[p] = {FileKind::Missing, target}; }
  // Resolves each prefix through the links (one level is enough for this tree).
  std::optional<std::string> resolve(const std::string& path) const {
    std::string cleaned = wsbridge::http::clean_path(path);
    if (cleaned.size() > 1 && cleaned.back() == '/') cleaned.pop_back();
    std::string done;
    std::size_t at = 0;
    while (at < cleaned.size()) {
      std::size_t next = cleaned.find('/', at + 1);
      done += cleaned.substr(at, next == std::string::npos ? std::string::npos : next - at);
      auto it = entries_.find(done);
      if (it == entries_.end()) return std::nullopt;
      done = it->second.real;
      if (next == std::string::npos) break;
      at = next;
    }
    if (done.empty()) done = "/";
    return done;
  }
  std::map<std::string, Entry> entries_;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const FakeTree tree;
  FuzzInput input(data, size);
  const bool with_cgi = (input.take_byte() & 1) != 0;
  std::string raw = input.rest();
  // The router hands over a percent-decoded, cleaned path; try both that and
  // the raw bytes, which a future caller might pass.
  std::string decoded = wsbridge::http::percent_decode_path(raw).value_or(raw);
  for (const std::string& path : {wsbridge::http::clean_path(decoded), "/" + raw}) {
    StaticMatch match;
    const std::string cgi_root = with_cgi ? "/srv/www/cgi" : "";
    StaticLookup result = wsbridge::route::find_static_file("/srv/www", cgi_root, path, tree, match);
    if (result == StaticLookup::File) {
      FUZZ_CHECK(wsbridge::route::is_within(match.file_path, "/srv/www"));
      if (with_cgi) FUZZ_CHECK(!wsbridge::route::is_within(match.file_path, "/srv/www/cgi"));
      FUZZ_CHECK(tree.kind_of(match.file_path) == FileKind::Regular);
      FUZZ_CHECK(match.file_path.find("/.") == std::string::npos);
      FUZZ_CHECK(match.file_path.find('\0') == std::string::npos);
    }
    if (result == StaticLookup::AddSlash || result == StaticLookup::IndexRedirect ||
        result == StaticLookup::DropSlash) {
      FUZZ_CHECK(!match.location.empty() && match.location[0] == '/');
      FUZZ_CHECK(match.location.size() < 2 || match.location[1] != '/');
    }
  }
  return 0;
}
