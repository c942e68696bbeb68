// One element of a Sec-WebSocket-Extensions header (RFC 6455 §9.1): an
// extension name with its parameters, as the client wrote them.
#pragma once
#include <string>
#include <string_view>
#include <vector>

namespace wsbridge::ws {

struct ExtensionOffer {
  struct Parameter {
    std::string name;
    std::string value;       // unquoted; empty when the parameter has no value
    bool has_value = false;  // "name=value" rather than a bare "name"
  };

  std::string name;
  std::vector<Parameter> parameters;
  // False when this element breaks the §9.1 grammar (an empty name, a bad
  // token, an unterminated quoted string, a quoted value that is not a
  // token): such an offer is declined, never accepted half-understood.
  bool well_formed = true;
};

// Splits a header value (several header lines joined with ", ") into its
// offers, in order. Commas inside quoted strings do not split. Bounded by
// the header's length; never throws on any input except for lack of memory.
std::vector<ExtensionOffer> parse_extension_offers(std::string_view header);

}  // namespace wsbridge::ws
