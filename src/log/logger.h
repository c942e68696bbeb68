// Log lines, written to stdout one whole line at a time (under a lock, so
// lines from different connections and worker threads never interleave).
// Callable from any thread. Two layouts:
//   text (websocketd's, the default):
//     <RFC 1123 time with zone> | LEVEL  | category   | k:'v' k:'v' | message
//   json (--logformat=json), one object per line for log shippers:
//     {"time":"2026-11-25T10:00:00.123Z","level":"ACCESS","category":"session",
//      "url":"...","id":"...","message":"CONNECT"}
// Fields are preformatted once per connection with append_field (see
// Connection::log_fields_) in the text layout; the JSON writer parses them.
#pragma once
#include <string>
#include <string_view>

#include "wsbridge/cli/config.h"

namespace wsbridge::log {

using cli::LogLevel;

void set_level(LogLevel level) noexcept;
void set_json(bool json) noexcept;
// True when a message at `level` would be written; check before building
// expensive messages.
bool enabled(LogLevel level) noexcept;
void write(LogLevel level, std::string_view category, std::string_view fields,
           std::string_view message) noexcept;

// Appends " name:'value'" (without the leading space for the first field).
// A quote or backslash inside the value is escaped with a backslash, so the
// fields can be read back unambiguously.
void append_field(std::string& fields, std::string_view name, std::string_view value);

// The line as it would be written (without the trailing newline); for tests.
std::string format_line(LogLevel level, std::string_view category, std::string_view fields,
                        std::string_view message, bool json);

}  // namespace wsbridge::log
