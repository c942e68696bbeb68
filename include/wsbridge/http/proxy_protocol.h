// The PROXY protocol (HAProxy, versions 1 and 2), which a load balancer
// sends first on each connection to say who the real client is. Sans-IO:
// bytes in, a result out. With --proxy-protocol every connection must start
// with such a header; anything else is refused.
#pragma once
#include <cstddef>
#include <string>

namespace wsbridge::http {

class ProxyHeaderParser {
 public:
  enum class Status { NeedMore, Done, Error };

  // Feeds the first bytes of a connection. `consumed` counts the header's
  // bytes; on Done, data[consumed, size) is what followed (TLS or HTTP).
  Status feed(const char* data, std::size_t size, std::size_t& consumed);

  // On Done: the client's address and port, when the header carried them.
  // "PROXY UNKNOWN" (v1) and LOCAL or non-IP families (v2) carry none: the
  // connection's own peer address stays.
  bool has_source() const noexcept { return has_source_; }
  const std::string& source_address() const noexcept { return source_address_; }
  const std::string& source_port() const noexcept { return source_port_; }
  // On Error: why.
  const std::string& error() const noexcept { return error_; }

 private:
  Status parse_v1(std::size_t& header_size);
  Status parse_v2(std::size_t& header_size);
  Status fail(std::string why);

  std::string buffer_;  // header bytes seen so far (at most one header)
  bool has_source_ = false;
  std::string source_address_, source_port_, error_;
};

}  // namespace wsbridge::http
