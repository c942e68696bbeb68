// Fuzzes the CGI response-header parser (a script's stdout is untrusted in
// the sense that scripts are often sloppy). Invariants:
//  - the outcome (status, headers, error, where the body starts) does not
//    depend on how the output was split into reads;
//  - on Done, every header name is a non-empty token and no name or value
//    holds CR, LF or NUL (they go straight into our HTTP response: a CR/LF
//    there would be response splitting), and the status is 100..999;
//  - `consumed` never exceeds what was fed.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/bridge/cgi_response.h"

using wsbridge::bridge::CgiResponseParser;
using wsbridge::fuzz::FuzzInput;

namespace {

struct Outcome {
  CgiResponseParser::Status status = CgiResponseParser::Status::NeedMore;
  int http_status = 0;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string error;
  std::size_t body_start = 0;  // offset in the whole output
  bool operator==(const Outcome& o) const {
    return status == o.status && http_status == o.http_status && headers == o.headers && error == o.error &&
           body_start == o.body_start;
  }
};

Outcome parse(const std::string& output, const std::vector<std::size_t>& ends, bool finish) {
  CgiResponseParser parser;
  Outcome out;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    std::size_t consumed = 0;
    out.status = parser.feed(std::string_view(output).substr(begin, end - begin), consumed);
    FUZZ_CHECK(consumed <= end - begin);
    if (out.status != CgiResponseParser::Status::NeedMore) {
      out.body_start = begin + consumed;
      break;
    }
    begin = end;
  }
  if (out.status == CgiResponseParser::Status::NeedMore && finish) out.status = parser.finish();
  if (out.status == CgiResponseParser::Status::Done) {
    out.http_status = parser.status();
    for (const auto& h : parser.headers()) out.headers.emplace_back(h.name, h.value);
  } else if (out.status == CgiResponseParser::Status::Error) {
    out.error = parser.error();
  }
  return out;
}

bool clean(const std::string& text) {
  for (char c : text) {
    if (c == '\r' || c == '\n' || c == '\0') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const auto chunking = input.take_chunking();
  const bool finish = (input.take_byte() & 1) != 0;
  const std::string output = input.rest();

  const Outcome whole = parse(output, {output.size()}, finish);
  const Outcome split = parse(output, chunking.ends(output.size()), finish);
  // Body offsets are only comparable when both stopped at the header end.
  FUZZ_CHECK(whole.status == split.status);
  FUZZ_CHECK(whole.http_status == split.http_status && whole.headers == split.headers);
  if (whole.status == CgiResponseParser::Status::Done) {
    FUZZ_CHECK(whole.body_start == split.body_start);
    FUZZ_CHECK(whole.http_status >= 100 && whole.http_status <= 999);
    for (const auto& [name, value] : whole.headers) {
      FUZZ_CHECK(!name.empty() && clean(name) && clean(value));
      FUZZ_CHECK(name.find(':') == std::string::npos && name.find(' ') == std::string::npos);
    }
  }
  return 0;
}
