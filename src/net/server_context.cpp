#include "net/server_context.h"

#include <cctype>

namespace wsbridge::net {

http::Header parse_header_flag(const std::string& flag) {
  std::size_t colon = flag.find(':');
  std::string name = flag.substr(0, colon);
  std::string value = colon == std::string::npos ? std::string() : flag.substr(colon + 1);
  value.erase(0, value.find_first_not_of(' '));
  // Go's CanonicalMIMEHeaderKey: "x-lower-case" → "X-Lower-Case".
  bool upper_next = true;
  for (char& c : name) {
    c = static_cast<char>(upper_next ? std::toupper(static_cast<unsigned char>(c))
                                     : std::tolower(static_cast<unsigned char>(c)));
    upper_next = c == '-';
  }
  return {name, value};
}

}  // namespace wsbridge::net
