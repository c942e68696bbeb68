// RFC 9110 §5.6.2 token characters ("tchar"): what HTTP methods, header
// names, WebSocket extension and subprotocol names are made of. One
// definition for every parser and check that needs it.
#pragma once

namespace wsbridge::http {

constexpr bool is_token_char(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!': case '#': case '$': case '%': case '&': case '\'': case '*': case '+':
    case '-': case '.': case '^': case '_': case '`': case '|': case '~':
      return true;
    default:
      return false;
  }
}

}  // namespace wsbridge::http
