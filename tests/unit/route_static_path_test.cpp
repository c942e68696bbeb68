// --staticdir path resolution: Go FileServer's redirects, no dotfiles, no
// listings, nothing outside the root, CGI sources never sent.
#include <catch2/catch.hpp>

#include "fake_fs.h"
#include "wsbridge/route/static_path.h"

using wsbridge::route::find_static_file;
using wsbridge::route::StaticLookup;
using wsbridge::route::StaticMatch;

namespace {

test_support::FakeFs tree() {
  test_support::FakeFs fs;
  fs.dir("/www").file("/www/index.html").file("/www/app.js").dir("/www/sub").file("/www/sub/index.html")
      .dir("/www/bare").file("/www/bare/a.txt").file("/www/.env").dir("/www/.git").file("/www/.git/config")
      .other("/www/fifo").dir("/etc").file("/etc/passwd").link("/www/passwd", "/etc/passwd")
      .link("/www/etc", "/etc").dir("/www/cgi").file("/www/cgi/run.cgi").file("/www/inside.txt")
      .link("/www/alias.txt", "/www/inside.txt");
  return fs;
}

StaticLookup lookup(const std::string& path, StaticMatch& match, const std::string& cgi = "") {
  static const auto fs = tree();
  return find_static_file("/www", cgi, path, fs, match);
}

}  // namespace

TEST_CASE("files and folder indexes are served", "[route_static_path_test]") {
  StaticMatch m;
  REQUIRE(lookup("/app.js", m) == StaticLookup::File);
  CHECK(m.file_path == "/www/app.js");
  REQUIRE(lookup("/", m) == StaticLookup::File);
  CHECK(m.file_path == "/www/index.html");
  REQUIRE(lookup("/sub/", m) == StaticLookup::File);
  CHECK(m.file_path == "/www/sub/index.html");
  // A link that stays inside is fine; the canonical path is what is opened.
  REQUIRE(lookup("/alias.txt", m) == StaticLookup::File);
  CHECK(m.file_path == "/www/inside.txt");
}

TEST_CASE("Go FileServer's redirects", "[route_static_path_test]") {
  StaticMatch m;
  CHECK(lookup("/sub", m) == StaticLookup::AddSlash);
  CHECK(m.location == "/sub/");
  CHECK(lookup("/index.html", m) == StaticLookup::IndexRedirect);
  CHECK(m.location == "/");
  CHECK(lookup("/sub/index.html", m) == StaticLookup::IndexRedirect);
  CHECK(m.location == "/sub/");
  CHECK(lookup("/app.js/", m) == StaticLookup::DropSlash);
  CHECK(m.location == "/app.js");
}

TEST_CASE("dotfiles and listings are refused, existing or not", "[route_static_path_test]") {
  StaticMatch m;
  CHECK(lookup("/.env", m) == StaticLookup::Hidden);
  CHECK(lookup("/.git/config", m) == StaticLookup::Hidden);
  CHECK(lookup("/.nothing", m) == StaticLookup::Hidden);
  CHECK(lookup("/sub/.x/y", m) == StaticLookup::Hidden);
  CHECK(lookup("/bare/", m) == StaticLookup::NoListing);
  CHECK(lookup("/bare/a.txt", m) == StaticLookup::File);
}

TEST_CASE("nothing outside the root, nothing that is not a file", "[route_static_path_test]") {
  StaticMatch m;
  CHECK(lookup("/passwd", m) == StaticLookup::NotFound);
  CHECK(lookup("/etc/passwd", m) == StaticLookup::NotFound);
  CHECK(lookup("/etc/", m) == StaticLookup::NotFound);
  CHECK(lookup("/etc", m) == StaticLookup::NotFound);
  CHECK(lookup("/missing", m) == StaticLookup::NotFound);
  CHECK(lookup("/fifo", m) == StaticLookup::NotRegular);
  CHECK(m.file_path.empty());
}

TEST_CASE("a CGI folder inside the static folder is never sent (#453)", "[route_static_path_test]") {
  StaticMatch m;
  CHECK(lookup("/cgi/run.cgi", m, "/www/cgi") == StaticLookup::CgiSource);
  CHECK(lookup("/cgi/run.cgi", m) == StaticLookup::File);
}

TEST_CASE("an unclean path never yields a protocol-relative redirect", "[route_static_path_test]") {
  // Found by tests/fuzz/static_path_fuzz.cpp: "//sub" used to give "//sub/",
  // which a browser reads as a redirect to the host "sub".
  StaticMatch m;
  REQUIRE(lookup("//sub", m) == StaticLookup::AddSlash);
  CHECK(m.location == "/sub/");
  CHECK(lookup("/sub/../.hidden", m) == StaticLookup::Hidden);
}
