#include "wsbridge/http/file_response.h"

#include <ctime>
#include <cstring>

namespace wsbridge::http {
namespace {

std::string_view trim(std::string_view text) noexcept {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

std::string_view strip_weak(std::string_view tag) noexcept {
  if (tag.size() >= 2 && tag[0] == 'W' && tag[1] == '/') tag.remove_prefix(2);
  return tag;
}

// If-None-Match uses the weak comparison (RFC 9110 §13.1.2): "W/" ignored.
bool none_match_hits(std::string_view header, const std::string& etag) {
  if (trim(header) == "*") return true;
  while (!header.empty()) {
    const std::size_t comma = header.find(',');
    const std::string_view tag = strip_weak(trim(header.substr(0, comma)));
    if (tag == etag) return true;
    if (comma == std::string_view::npos) break;
    header.remove_prefix(comma + 1);
  }
  return false;
}

bool parse_decimal(std::string_view text, std::uint64_t& value) noexcept {
  if (text.empty() || text.size() > 19) return false;
  value = 0;
  for (const char c : text) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<std::uint64_t>(c - '0');
  }
  return true;
}

enum class RangeResult { Ignore, Satisfiable, Unsatisfiable };

// One "bytes=first-last", "bytes=first-" or "bytes=-suffix" range.
RangeResult parse_range(std::string_view header, std::uint64_t size, std::uint64_t& offset,
                        std::uint64_t& length) noexcept {
  header = trim(header);
  constexpr std::string_view kUnit = "bytes=";
  if (header.size() < kUnit.size() || header.compare(0, kUnit.size(), kUnit) != 0) return RangeResult::Ignore;
  header.remove_prefix(kUnit.size());
  if (header.find(',') != std::string_view::npos) return RangeResult::Ignore;
  const std::size_t dash = header.find('-');
  if (dash == std::string_view::npos) return RangeResult::Ignore;
  const std::string_view first_text = trim(header.substr(0, dash));
  const std::string_view last_text = trim(header.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (first_text.empty()) {
    if (!parse_decimal(last_text, last)) return RangeResult::Ignore;
    if (last == 0 || size == 0) return RangeResult::Unsatisfiable;
    length = last < size ? last : size;
    offset = size - length;
    return RangeResult::Satisfiable;
  }
  if (!parse_decimal(first_text, first)) return RangeResult::Ignore;
  if (last_text.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!parse_decimal(last_text, last) || last < first) {
    return RangeResult::Ignore;
  }
  if (first >= size) return RangeResult::Unsatisfiable;
  if (last >= size) last = size - 1;
  offset = first;
  length = last - first + 1;
  return RangeResult::Satisfiable;
}

}  // namespace

std::string make_etag(const FileFacts& facts) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "\"%llx-%llx.%llx\"", static_cast<unsigned long long>(facts.size),
                static_cast<unsigned long long>(facts.mtime_seconds),
                static_cast<unsigned long long>(facts.mtime_nanoseconds));
  return buffer;
}

std::string format_http_date(std::int64_t unix_seconds) {
  const std::time_t time = static_cast<std::time_t>(unix_seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char buffer[64];
  std::strftime(buffer, sizeof buffer, "%a, %d %b %Y %H:%M:%S GMT", &parts);
  return buffer;
}

std::optional<std::int64_t> parse_http_date(std::string_view text) {
  const std::string copy(trim(text));
  // IMF-fixdate, RFC 850, asctime: strptime reads names in the C locale.
  static const char* const kFormats[] = {"%a, %d %b %Y %H:%M:%S GMT", "%A, %d-%b-%y %H:%M:%S GMT",
                                         "%a %b %e %H:%M:%S %Y"};
  for (const char* format : kFormats) {
    std::tm parts{};
    const char* end = strptime(copy.c_str(), format, &parts);
    if (end != nullptr && *end == '\0') return static_cast<std::int64_t>(timegm(&parts));
  }
  return std::nullopt;
}

FilePlan plan_file_response(const Request& request, const FileFacts& facts) {
  FilePlan plan;
  const std::string etag = make_etag(facts);
  const std::string last_modified = format_http_date(facts.mtime_seconds);
  plan.headers.push_back({"Last-Modified", last_modified});
  plan.headers.push_back({"ETag", etag});

  const std::string* if_none_match = request.find_header("If-None-Match");
  bool not_modified = false;
  if (if_none_match != nullptr) {
    not_modified = none_match_hits(request.joined_header("If-None-Match"), etag);
  } else if (const std::string* since = request.find_header("If-Modified-Since")) {
    const std::optional<std::int64_t> when = parse_http_date(*since);
    not_modified = when && facts.mtime_seconds <= *when;
  }
  if (not_modified) {
    plan.status = 304;
    return plan;
  }

  plan.headers.push_back({"Content-Type", std::string(facts.content_type)});
  plan.headers.push_back({"Accept-Ranges", "bytes"});
  plan.status = 200;
  plan.offset = 0;
  plan.length = facts.size;

  const std::string* range = request.find_header("Range");
  bool use_range = range != nullptr;
  if (use_range) {
    // If-Range: the range only applies to the representation the client
    // already has part of; otherwise it gets the whole new one.
    if (const std::string* if_range = request.find_header("If-Range")) {
      const std::string_view validator = trim(*if_range);
      use_range = validator == etag || validator == last_modified;
    }
  }
  if (use_range) {
    std::uint64_t offset = 0, length = 0;
    switch (parse_range(*range, facts.size, offset, length)) {
      case RangeResult::Ignore:
        break;
      case RangeResult::Satisfiable:
        plan.status = 206;
        plan.offset = offset;
        plan.length = length;
        plan.headers.push_back({"Content-Range", "bytes " + std::to_string(offset) + "-" +
                                                     std::to_string(offset + length - 1) + "/" +
                                                     std::to_string(facts.size)});
        break;
      case RangeResult::Unsatisfiable:
        plan.status = 416;
        plan.offset = 0;
        plan.length = 0;
        plan.headers.push_back({"Content-Range", "bytes */" + std::to_string(facts.size)});
        return plan;
    }
  }
  plan.send_body = request.method != "HEAD" && plan.length > 0;
  return plan;
}

}  // namespace wsbridge::http
