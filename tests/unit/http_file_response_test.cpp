// Conditional requests and ranges for static files (RFC 9110 §13, §14).
#include <catch2/catch.hpp>

#include "wsbridge/http/file_response.h"
#include "wsbridge/http/mime_types.h"

using namespace wsbridge::http;

namespace {

Request get(std::vector<Header> headers = {}, const std::string& method = "GET") {
  Request request;
  request.method = method;
  request.target = request.path = "/f";
  request.headers = std::move(headers);
  return request;
}

FileFacts facts() {
  FileFacts f;
  f.size = 1000;
  f.mtime_seconds = 784111777;  // Sun, 06 Nov 1994 08:49:37 GMT
  f.mtime_nanoseconds = 5;
  f.content_type = "text/plain; charset=utf-8";
  return f;
}

const std::string* find(const FilePlan& plan, const std::string& name) {
  for (const auto& h : plan.headers) {
    if (iequals(h.name, name)) return &h.value;
  }
  return nullptr;
}

// The ETag a plain GET of the file gets: what a client would send back.
std::string etag_of(const FileFacts& file) {
  const FilePlan plan = plan_file_response(get(), file);
  const std::string* etag = find(plan, "ETag");
  REQUIRE(etag != nullptr);
  return *etag;
}

// What the README promises: a strong validator, an opaque string in double
// quotes (RFC 9110 §8.8.3: no "W/" prefix, etagc characters inside).
bool is_quoted_strong_validator(const std::string& etag) {
  if (etag.size() < 2 || etag.front() != '"' || etag.back() != '"') return false;
  for (std::size_t i = 1; i + 1 < etag.size(); ++i) {
    const auto c = static_cast<unsigned char>(etag[i]);
    if (c == '"' || c < 0x21 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("dates are formatted and parsed in all three forms", "[http_file_response_test]") {
  CHECK(format_http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT");
  CHECK(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT") == 784111777);
  CHECK(parse_http_date("Sun Nov  6 08:49:37 1994") == 784111777);
  CHECK_FALSE(parse_http_date("yesterday"));
  CHECK_FALSE(parse_http_date("Sun, 06 Nov 1994 08:49:37 GMT trailing"));
}

TEST_CASE("a plain GET is 200 with validators; HEAD has no body", "[http_file_response_test]") {
  FilePlan plan = plan_file_response(get(), facts());
  CHECK(plan.status == 200);
  CHECK(plan.length == 1000);
  CHECK(plan.send_body);
  CHECK(*find(plan, "Last-Modified") == "Sun, 06 Nov 1994 08:49:37 GMT");
  REQUIRE(find(plan, "ETag") != nullptr);
  CHECK(is_quoted_strong_validator(*find(plan, "ETag")));
  CHECK(*find(plan, "Content-Type") == "text/plain; charset=utf-8");
  CHECK(*find(plan, "Accept-Ranges") == "bytes");
  FilePlan head = plan_file_response(get({}, "HEAD"), facts());
  CHECK(head.status == 200);
  CHECK(head.length == 1000);
  CHECK_FALSE(head.send_body);
}

TEST_CASE("the ETag changes with the file's size and modification time", "[http_file_response_test]") {
  FileFacts bigger = facts();
  bigger.size += 1;
  FileFacts touched = facts();
  touched.mtime_nanoseconds += 1;
  FileFacts later = facts();
  later.mtime_seconds += 1;
  CHECK(etag_of(facts()) == etag_of(facts()));
  for (const FileFacts& changed : {bigger, touched, later}) {
    CHECK(is_quoted_strong_validator(etag_of(changed)));
    CHECK(etag_of(changed) != etag_of(facts()));
  }
}

TEST_CASE("If-None-Match and If-Modified-Since give 304", "[http_file_response_test]") {
  const std::string etag = etag_of(facts());
  CHECK(plan_file_response(get({{"If-None-Match", etag}}), facts()).status == 304);
  CHECK(plan_file_response(get({{"If-None-Match", "\"x\", W/" + etag}}), facts()).status == 304);
  CHECK(plan_file_response(get({{"If-None-Match", "*"}}), facts()).status == 304);
  CHECK(plan_file_response(get({{"If-None-Match", "\"other\""}}), facts()).status == 200);
  CHECK(plan_file_response(get({{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}), facts()).status == 304);
  CHECK(plan_file_response(get({{"If-Modified-Since", "Sun, 06 Nov 1994 08:49:36 GMT"}}), facts()).status == 200);
  CHECK(plan_file_response(get({{"If-Modified-Since", "garbage"}}), facts()).status == 200);
  // If-None-Match wins over If-Modified-Since (RFC 9110 §13.2.2).
  CHECK(plan_file_response(get({{"If-None-Match", "\"other\""}, {"If-Modified-Since", "Sun, 06 Nov 1994 08:49:37 GMT"}}),
                           facts())
            .status == 200);
  FilePlan not_modified = plan_file_response(get({{"If-None-Match", etag}}), facts());
  CHECK_FALSE(not_modified.send_body);
  CHECK(find(not_modified, "ETag") != nullptr);
}

TEST_CASE("one byte range gives 206, unsatisfiable ones 416", "[http_file_response_test]") {
  struct Case {
    const char* range;
    int status;
    std::uint64_t offset, length;
    const char* content_range;
  };
  const Case cases[] = {
      {"bytes=0-99", 206, 0, 100, "bytes 0-99/1000"},
      {"bytes=990-", 206, 990, 10, "bytes 990-999/1000"},
      {"bytes=-10", 206, 990, 10, "bytes 990-999/1000"},
      {"bytes=-5000", 206, 0, 1000, "bytes 0-999/1000"},
      {"bytes=900-5000", 206, 900, 100, "bytes 900-999/1000"},
      {"bytes=1000-", 416, 0, 0, "bytes */1000"},
      {"bytes=-0", 416, 0, 0, "bytes */1000"},
      {"bytes=0-1,5-6", 200, 0, 1000, nullptr},  // several ranges: the whole file
      {"bytes=5-1", 200, 0, 1000, nullptr},      // malformed: ignored
      {"items=0-1", 200, 0, 1000, nullptr},
      {"bytes=x-1", 200, 0, 1000, nullptr},
  };
  for (const Case& c : cases) {
    CAPTURE(c.range);
    FilePlan plan = plan_file_response(get({{"Range", c.range}}), facts());
    CHECK(plan.status == c.status);
    CHECK(plan.offset == c.offset);
    CHECK(plan.length == c.length);
    const std::string* content_range = find(plan, "Content-Range");
    if (c.content_range) {
      REQUIRE(content_range != nullptr);
      CHECK(*content_range == c.content_range);
    } else {
      CHECK(content_range == nullptr);
    }
  }
}

TEST_CASE("If-Range applies the range only to the same file", "[http_file_response_test]") {
  const std::string etag = etag_of(facts());
  CHECK(plan_file_response(get({{"Range", "bytes=0-9"}, {"If-Range", etag}}), facts()).status == 206);
  CHECK(plan_file_response(get({{"Range", "bytes=0-9"}, {"If-Range", "\"old\""}}), facts()).status == 200);
  CHECK(plan_file_response(get({{"Range", "bytes=0-9"}, {"If-Range", "Sun, 06 Nov 1994 08:49:37 GMT"}}), facts())
            .status == 206);
  FileFacts changed = facts();
  changed.mtime_nanoseconds = 6;
  CHECK(plan_file_response(get({{"Range", "bytes=0-9"}, {"If-Range", etag}}), changed).status == 200);
}

TEST_CASE("Content-Type by extension", "[http_file_response_test]") {
  CHECK(mime_type_for("/a/index.html") == "text/html; charset=utf-8");
  CHECK(mime_type_for("APP.JS") == "text/javascript; charset=utf-8");
  CHECK(mime_type_for("x.css") == "text/css; charset=utf-8");
  CHECK(mime_type_for("x.svg") == "image/svg+xml");
  CHECK(mime_type_for("x.wasm") == "application/wasm");
  CHECK(mime_type_for("Makefile") == "application/octet-stream");
  CHECK(mime_type_for("/dir.v2/file") == "application/octet-stream");
  CHECK(mime_type_for("trailing.") == "application/octet-stream");
}
