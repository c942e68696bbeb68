// Log lines, written to stdout one whole line at a time, so lines from
// different connections and worker threads never interleave. Callable from
// any thread. Until start_background_writer() they are written at once;
// after it, by a thread of their own (async_line_writer.h), so a log reader
// that falls behind never stalls an event loop. Two layouts:
//   text (websocketd's, the default):
//     <RFC 1123 time with zone> | LEVEL  | category   | k:'v' k:'v' | message
//   json (--logformat=json), one object per line for log shippers:
//     {"time":"2026-11-25T10:00:00.123Z","level":"ACCESS","category":"session",
//      "url":"...","id":"...","message":"CONNECT"}
// Fields are preformatted once per connection with append_field (see
// AcceptedClient::log_fields_) in the text layout; the JSON writer parses them.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>

#include "wsbridge/cli/config.h"

namespace wsbridge::log {

using cli::LogLevel;

void set_level(LogLevel level) noexcept;
// Hands every later line to the log's writer thread, and makes the process's
// exit wait (briefly: 2 s at most) for queued lines. Call once, from the main
// thread, after the last fork of start-up. False when the thread cannot be
// started: lines are then written at once, as before.
bool start_background_writer() noexcept;
// Lines dropped because the log's reader fell behind (bounded queue full).
std::uint64_t dropped_lines() noexcept;
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
