// Sec-WebSocket-Extensions grammar (RFC 6455 §9.1, with RFC 7230's token
// and quoted-string): a comma-separated list of
//   name *( ";" param-name [ "=" ( token / quoted-string ) ] )
// with optional whitespace around every separator. One offer that breaks
// the grammar is marked and skipped up to the next comma outside quotes, so
// a later offer in the same header can still be accepted.
#include "wsbridge/ws/extension_offer.h"

#include "wsbridge/http/token.h"

namespace wsbridge::ws {
namespace {

using http::is_token_char;

bool is_token(std::string_view text) noexcept {
  if (text.empty()) return false;
  for (const char c : text) {
    if (!is_token_char(c)) return false;
  }
  return true;
}

// A cursor over the header that knows the grammar's pieces.
class Scanner {
 public:
  explicit Scanner(std::string_view text) noexcept : text_(text) {}

  bool at_end() const noexcept { return pos_ >= text_.size(); }
  char peek() const noexcept { return at_end() ? '\0' : text_[pos_]; }
  void advance() noexcept { ++pos_; }

  void skip_whitespace() noexcept {
    while (!at_end() && (text_[pos_] == ' ' || text_[pos_] == '\t')) ++pos_;
  }

  std::string_view take_token() noexcept {
    const std::size_t start = pos_;
    while (!at_end() && is_token_char(text_[pos_])) ++pos_;
    return text_.substr(start, pos_ - start);
  }

  // A quoted-string starting at the opening quote, unescaped into `out`.
  // False when it is not closed before the end of the header.
  bool take_quoted(std::string& out) {
    ++pos_;  // the opening quote
    while (!at_end()) {
      const char c = text_[pos_++];
      if (c == '"') return true;
      if (c == '\\') {
        if (at_end()) return false;
        out.push_back(text_[pos_++]);
      } else {
        out.push_back(c);
      }
    }
    return false;
  }

  // After an error: on to the comma that ends this element, stepping over
  // quoted strings so a quoted comma does not end it early.
  void skip_to_next_element() noexcept {
    bool quoted = false;
    while (!at_end()) {
      const char c = text_[pos_];
      if (quoted && c == '\\') {
        pos_ += 2;
        continue;
      }
      if (c == '"') quoted = !quoted;
      if (c == ',' && !quoted) return;
      ++pos_;
    }
  }

 private:
  std::string_view text_;
  std::size_t pos_ = 0;
};

// One parameter after its ";". False on a grammar error.
bool parse_parameter(Scanner& in, ExtensionOffer::Parameter& param) {
  in.skip_whitespace();
  param.name = std::string(in.take_token());
  if (param.name.empty()) return false;
  in.skip_whitespace();
  if (in.peek() != '=') return true;
  in.advance();
  in.skip_whitespace();
  param.has_value = true;
  if (in.peek() == '"') {
    // §9.1: a quoted value must still be a token once unquoted.
    return in.take_quoted(param.value) && is_token(param.value);
  }
  param.value = std::string(in.take_token());
  return !param.value.empty();
}

// One list element up to (not including) its comma. False on a grammar error.
bool parse_offer(Scanner& in, ExtensionOffer& offer) {
  offer.name = std::string(in.take_token());
  if (offer.name.empty()) return false;
  for (;;) {
    in.skip_whitespace();
    if (in.at_end() || in.peek() == ',') return true;
    if (in.peek() != ';') return false;
    in.advance();
    ExtensionOffer::Parameter param;
    if (!parse_parameter(in, param)) return false;
    offer.parameters.push_back(std::move(param));
  }
}

}  // namespace

std::vector<ExtensionOffer> parse_extension_offers(std::string_view header) {
  std::vector<ExtensionOffer> offers;
  Scanner in(header);
  while (!in.at_end()) {
    in.skip_whitespace();
    // RFC 7230 §7: empty list elements (", ,") are allowed and ignored.
    if (in.peek() == ',') {
      in.advance();
      continue;
    }
    if (in.at_end()) break;
    ExtensionOffer offer;
    if (!parse_offer(in, offer)) {
      offer.well_formed = false;
      in.skip_to_next_element();
    }
    offers.push_back(std::move(offer));
    if (in.peek() == ',') in.advance();
  }
  return offers;
}

}  // namespace wsbridge::ws
