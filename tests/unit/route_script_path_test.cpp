// --dir lookup, as websocketd 0.4.1 answers on loopback (reference §1.5),
// plus the symlink-escape refusal of its main branch.
#include <catch2/catch.hpp>

#include "fake_fs.h"
#include "wsbridge/route/script_path.h"

using wsbridge::route::find_script;
using wsbridge::route::is_within;
using wsbridge::route::ScriptLookup;
using wsbridge::route::ScriptMatch;

namespace {

test_support::FakeFs tree() {
  test_support::FakeFs fs;
  fs.dir("/srv").dir("/srv/ws").file("/srv/ws/hello.sh").dir("/srv/ws/sub").file("/srv/ws/sub/deep.sh")
      .file("/srv/ws/.hidden.sh").dir("/srv/ws/empty").other("/srv/ws/fifo").file("/etc/passwd")
      .link("/srv/ws/out", "/etc/passwd").link("/srv/ws/in", "/srv/ws/hello.sh")
      .dir("/etc").link("/srv/ws/etc", "/etc");
  return fs;
}

}  // namespace

TEST_CASE("the first regular file along the path is the script", "[route_script_path_test]") {
  const auto fs = tree();
  struct Case {
    const char* path;
    const char* file;
    const char* script_name;
    const char* path_info;
  };
  const Case cases[] = {
      {"/hello.sh", "/srv/ws/hello.sh", "/hello.sh", ""},
      {"/hello.sh/", "/srv/ws/hello.sh", "/hello.sh", "/"},
      {"/hello.sh/extra/p q", "/srv/ws/hello.sh", "/hello.sh", "/extra/p q"},
      {"/sub/deep.sh", "/srv/ws/sub/deep.sh", "/sub/deep.sh", ""},
      {"/sub/deep.sh/x", "/srv/ws/sub/deep.sh", "/sub/deep.sh", "/x"},
      {"/.hidden.sh", "/srv/ws/.hidden.sh", "/.hidden.sh", ""},
      // A link inside the folder keeps its own name as argv[0].
      {"/in/a", "/srv/ws/in", "/in", "/a"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.path);
    ScriptMatch match;
    REQUIRE(find_script("/srv/ws", c.path, fs, match) == ScriptLookup::Found);
    CHECK(match.file_path == c.file);
    CHECK(match.script_name == c.script_name);
    CHECK(match.path_info == c.path_info);
  }
}

TEST_CASE("folders, missing files and special files are not scripts", "[route_script_path_test]") {
  const auto fs = tree();
  for (const char* path : {"/", "/sub", "/sub/", "/empty", "/missing", "/sub/missing.sh", "/fifo",
                           "/missing/hello.sh"}) {
    CAPTURE(path);
    ScriptMatch match;
    CHECK(find_script("/srv/ws", path, fs, match) == ScriptLookup::NotFound);
  }
}

TEST_CASE("a script that resolves outside the folder is refused", "[route_script_path_test]") {
  const auto fs = tree();
  ScriptMatch match;
  CHECK(find_script("/srv/ws", "/out", fs, match) == ScriptLookup::Escapes);
  CHECK(find_script("/srv/ws", "/etc/passwd", fs, match) == ScriptLookup::Escapes);
  CHECK(match.file_path.empty());
}

TEST_CASE("is_within compares whole path segments", "[route_script_path_test]") {
  CHECK(is_within("/srv/ws", "/srv/ws"));
  CHECK(is_within("/srv/ws/a", "/srv/ws"));
  CHECK_FALSE(is_within("/srv/wsx/a", "/srv/ws"));
  CHECK_FALSE(is_within("/srv", "/srv/ws"));
  CHECK(is_within("/anything", "/"));
}
