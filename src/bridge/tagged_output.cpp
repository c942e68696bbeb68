#include "wsbridge/bridge/tagged_output.h"

#include <cstdio>

#include "wsbridge/bridge/utf8_sanitizer.h"

namespace wsbridge::bridge {

std::string tag_output_line(bool from_stderr, std::string_view line) {
  std::string scratch;
  std::string_view text = sanitize_utf8(line, scratch);
  std::string out = from_stderr ? R"({"stream":"stderr","data":")" : R"({"stream":"stdout","data":")";
  out.reserve(out.size() + text.size() + 3);
  for (std::size_t i = 0; i < text.size(); ++i) {
    auto c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '<': out += "\\u003c"; continue;
      case '>': out += "\\u003e"; continue;
      case '&': out += "\\u0026"; continue;
      default: break;
    }
    if (c < 0x20) {
      char escaped[8];
      std::snprintf(escaped, sizeof escaped, "\\u%04x", c);
      out += escaped;
    } else if (c == 0xE2 && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0x80 &&
               (static_cast<unsigned char>(text[i + 2]) == 0xA8 || static_cast<unsigned char>(text[i + 2]) == 0xA9)) {
      // U+2028 and U+2029 end lines in JavaScript; Go escapes them.
      out += static_cast<unsigned char>(text[i + 2]) == 0xA8 ? "\\u2028" : "\\u2029";
      i += 2;
    } else if (c == 0xEF && i + 2 < text.size() && static_cast<unsigned char>(text[i + 1]) == 0xBF &&
               static_cast<unsigned char>(text[i + 2]) == 0xBD && text.data() != line.data()) {
      // A replacement made by the sanitizer: Go writes it as an escape.
      out += "\\ufffd";
      i += 2;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  out += "\"}";
  return out;
}

std::string_view output_message_text(std::string_view line, bool from_stderr, bool tagged, std::string& scratch) {
  if (!tagged) return sanitize_utf8(line, scratch);
  scratch = tag_output_line(from_stderr, line);
  return scratch;
}

}  // namespace wsbridge::bridge
