// websocketd's log layout, written to stdout one line per write(2) so lines
// from different connections never interleave:
//   <RFC 1123 time with zone> | LEVEL  | category   | k:'v' k:'v' | message
// Fields are preformatted once per connection (see Connection::log_fields_).
#pragma once
#include <string>
#include <string_view>

#include "wsbridge/cli/config.h"

namespace wsbridge::log {

using cli::LogLevel;

void set_level(LogLevel level) noexcept;
// True when a message at `level` would be written; check before building
// expensive messages.
bool enabled(LogLevel level) noexcept;
void write(LogLevel level, std::string_view category, std::string_view fields,
           std::string_view message) noexcept;

// Appends " name:'value'" (without the leading space for the first field).
void append_field(std::string& fields, std::string_view name, std::string_view value);

}  // namespace wsbridge::log
