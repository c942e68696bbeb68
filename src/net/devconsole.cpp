#include "net/devconsole.h"

#include <algorithm>
#include <ctime>

#include "net/devconsole_page.h"
#include "wsbridge/http/file_response.h"
#include "wsbridge/http/response.h"

namespace wsbridge::net {
namespace {

// The page never changes while the server runs: its age is the server's.
const std::int64_t kServerStartedAt = static_cast<std::int64_t>(std::time(nullptr));

}  // namespace

std::string format_devconsole_response(const http::Request& request,
                                       const std::vector<http::Header>& extra_headers) {
  http::FileFacts facts;
  facts.size = kDevConsolePage.size();
  facts.mtime_seconds = kServerStartedAt;
  facts.content_type = "text/html; charset=utf-8";
  http::Request conditional = request;
  conditional.headers.erase(std::remove_if(conditional.headers.begin(), conditional.headers.end(),
                                           [](const http::Header& h) { return http::iequals(h.name, "Range"); }),
                            conditional.headers.end());
  http::FilePlan plan = http::plan_file_response(conditional, facts);
  std::vector<http::Header> headers = extra_headers;
  for (const http::Header& header : plan.headers) {
    if (!http::iequals(header.name, "Accept-Ranges")) headers.push_back(header);  // no ranges here
  }
  headers.push_back({"Content-Security-Policy",
                     "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                     "connect-src ws: wss:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"});
  headers.push_back({"X-Content-Type-Options", "nosniff"});
  headers.push_back({"Referrer-Policy", "no-referrer"});
  headers.push_back({"Cache-Control", "no-cache"});
  if (plan.status == 304) return http::format_response_head(304, headers, std::nullopt);
  std::string out = http::format_response_head(200, headers, kDevConsolePage.size());
  if (request.method != "HEAD") out.append(kDevConsolePage.data(), kDevConsolePage.size());
  return out;
}

}  // namespace wsbridge::net
