// Fuzzes the PROXY protocol v1/v2 header parser. Invariants: the outcome and
// the number of header bytes do not depend on how the bytes arrive; a Done
// never claims more bytes than were fed, and a reported source is a valid
// IPv4/IPv6 address with a port of at most 65535.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>

#include "fuzz_input.h"
#include "wsbridge/http/proxy_protocol.h"

using wsbridge::fuzz::FuzzInput;
using wsbridge::http::ProxyHeaderParser;

namespace {

struct Outcome {
  ProxyHeaderParser::Status status = ProxyHeaderParser::Status::NeedMore;
  std::size_t header_bytes = 0;
  bool has_source = false;
  std::string address, port;
};

Outcome parse(const std::string& bytes, const std::vector<std::size_t>& ends) {
  ProxyHeaderParser parser;
  Outcome out;
  std::size_t begin = 0;
  for (std::size_t end : ends) {
    std::size_t consumed = 0;
    out.status = parser.feed(bytes.data() + begin, end - begin, consumed);
    FUZZ_CHECK(consumed <= end - begin);
    if (out.status == ProxyHeaderParser::Status::Done) {
      out.header_bytes = begin + consumed;
      out.has_source = parser.has_source();
      out.address = parser.source_address();
      out.port = parser.source_port();
      break;
    }
    if (out.status == ProxyHeaderParser::Status::Error) break;
    begin = end;
  }
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput input(data, size);
  const auto chunking = input.take_chunking();
  const std::string bytes = input.rest();
  const Outcome whole = parse(bytes, {bytes.size()});
  const Outcome split = parse(bytes, chunking.ends(bytes.size()));
  // A prefix that is still a valid beginning says NeedMore in both.
  FUZZ_CHECK(whole.status == split.status);
  if (whole.status == ProxyHeaderParser::Status::Done) {
    FUZZ_CHECK(whole.header_bytes == split.header_bytes && whole.header_bytes <= bytes.size());
    FUZZ_CHECK(whole.address == split.address && whole.port == split.port);
    if (whole.has_source) {
      unsigned char buf[16];
      FUZZ_CHECK(inet_pton(AF_INET, whole.address.c_str(), buf) == 1 ||
                 inet_pton(AF_INET6, whole.address.c_str(), buf) == 1);
      FUZZ_CHECK(!whole.port.empty() && std::strtoul(whole.port.c_str(), nullptr, 10) <= 65535);
    }
  }
  return 0;
}
