#include "log/logger.h"

#include <sys/time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <new>

#include "log/async_line_writer.h"

#include "wsbridge/bridge/utf8_sanitizer.h"

namespace wsbridge::log {
namespace {

// Set once at start-up, before any worker thread exists; read-only after.
LogLevel g_level = LogLevel::Access;
bool g_json = false;
// Worker loops log from their own threads. A write(2) of more than PIPE_BUF
// bytes to a pipe may be split and interleaved with another thread's, and
// a partial write is finished by a second call: the lock makes each line one
// unbroken run of bytes.
std::mutex g_write_mutex;
// Once started, lines go through the writer thread and loops never block on
// the log's reader. Never freed: its thread may still be blocked in a write
// when the process exits.
std::atomic<AsyncLineWriter*> g_background_writer{nullptr};
// An orderly exit waits this long for queued lines to reach the reader.
constexpr unsigned kExitFlushTimeoutMs = 2000;

const char* level_name(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::Debug: return "DEBUG";
    case LogLevel::Trace: return "TRACE";
    case LogLevel::Access: return "ACCESS";
    case LogLevel::Info: return "INFO";
    case LogLevel::Error: return "ERROR";
    case LogLevel::Fatal: return "FATAL";
    case LogLevel::None: break;
  }
  return "NONE";
}

// Formatting the time costs a localtime_r call; a busy server logs many lines
// per second, so the text is cached for the second it describes. One cache
// per thread, so worker loops never share (or lock) it.
std::string_view current_time_text() noexcept {
  thread_local time_t cached_second = -1;
  thread_local char text[64];
  thread_local size_t length = 0;
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm parts {};
    localtime_r(&now, &parts);
    length = strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S %z", &parts);
    cached_second = now;
  }
  return {text, length};
}

// RFC 3339 UTC with milliseconds, the form log pipelines parse without help.
std::string current_time_rfc3339() {
  timeval now{};
  gettimeofday(&now, nullptr);
  struct tm parts {};
  gmtime_r(&now.tv_sec, &parts);
  char text[40];
  size_t n = strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &parts);
  snprintf(text + n, sizeof text - n, ".%03dZ", static_cast<int>(now.tv_usec / 1000));
  return text;
}

void pad_to(std::string& line, std::string_view text, size_t width) {
  line.append(text);
  if (text.size() < width) line.append(width - text.size(), ' ');
}

void append_json_string(std::string& out, std::string_view text) {
  // Child stderr may hold any bytes; JSON must be UTF-8.
  std::string scratch;
  text = bridge::sanitize_utf8(text, scratch);
  out.push_back('"');
  for (char c : text) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char escaped[8];
          snprintf(escaped, sizeof escaped, "\\u%04x", static_cast<unsigned>(c));
          out += escaped;
        } else {
          out.push_back(c);
        }
    }
  }
  out.push_back('"');
}

// Reads back what append_field wrote: name:'value' pairs separated by spaces,
// with \' and \\ escapes inside values.
void append_fields_as_json(std::string& out, std::string_view fields) {
  size_t i = 0;
  while (i < fields.size()) {
    size_t colon = fields.find(":'", i);
    if (colon == std::string_view::npos) break;
    std::string_view name = fields.substr(i, colon - i);
    std::string value;
    size_t j = colon + 2;
    for (; j < fields.size() && fields[j] != '\''; ++j) {
      if (fields[j] == '\\' && j + 1 < fields.size()) ++j;
      value.push_back(fields[j]);
    }
    out.push_back(',');
    append_json_string(out, name);
    out.push_back(':');
    append_json_string(out, value);
    i = j + 2;  // past the closing quote and the space
  }
}

std::string format_drop_report(std::uint64_t dropped) {
  std::string line = format_line(LogLevel::Error, "server", "",
                                 std::to_string(dropped) +
                                     " log lines were dropped: the reader of the server's output fell behind",
                                 g_json);
  line.push_back('\n');
  return line;
}

void flush_background_writer_at_exit() noexcept {
  if (AsyncLineWriter* writer = g_background_writer.load()) writer->flush(kExitFlushTimeoutMs);
}

// The server's own writes: a whole line under the lock, so lines from
// different threads never interleave; a full or closed stdout must never
// kill the server, so lines that cannot be written are dropped.
void write_synchronously(const std::string& line) noexcept {
  const char* data = line.data();
  size_t left = line.size();
  std::lock_guard<std::mutex> lock(g_write_mutex);
  while (left > 0) {
    ssize_t n = ::write(STDOUT_FILENO, data, left);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    data += n;
    left -= static_cast<size_t>(n);
  }
}

}  // namespace

bool start_background_writer() noexcept {
  if (g_background_writer.load() != nullptr) return true;
  auto* writer = new (std::nothrow) AsyncLineWriter(STDOUT_FILENO, &format_drop_report);
  if (writer == nullptr || !writer->start()) {
    delete writer;
    return false;
  }
  g_background_writer.store(writer);
  std::atexit(&flush_background_writer_at_exit);
  return true;
}

std::uint64_t dropped_lines() noexcept {
  AsyncLineWriter* writer = g_background_writer.load();
  return writer ? writer->dropped_total() : 0;
}

void set_level(LogLevel level) noexcept { g_level = level; }
void set_json(bool json) noexcept { g_json = json; }

bool enabled(LogLevel level) noexcept {
  return g_level != LogLevel::None && level != LogLevel::None && level >= g_level;
}

std::string format_line(LogLevel level, std::string_view category, std::string_view fields,
                        std::string_view message, bool json) {
  std::string line;
  line.reserve(64 + category.size() + fields.size() + message.size());
  if (json) {
    line += "{\"time\":\"" + current_time_rfc3339() + "\",\"level\":\"" + level_name(level) + "\",\"category\":";
    append_json_string(line, category);
    append_fields_as_json(line, fields);
    line += ",\"message\":";
    append_json_string(line, message);
    line.push_back('}');
    return line;
  }
  line.append(current_time_text());
  line.append(" | ");
  pad_to(line, level_name(level), 6);
  line.append(" | ");
  pad_to(line, category, 10);
  line.append(" | ");
  line.append(fields);
  line.append(" | ");
  line.append(message);
  return line;
}

void write(LogLevel level, std::string_view category, std::string_view fields,
           std::string_view message) noexcept {
  if (!enabled(level)) return;
  try {
    std::string line = format_line(level, category, fields, message, g_json);
    line.push_back('\n');
    if (AsyncLineWriter* writer = g_background_writer.load()) {
      writer->enqueue(line);
      return;
    }
    write_synchronously(line);
  } catch (...) {
    // Out of memory while logging: drop the line.
  }
}

void append_field(std::string& fields, std::string_view name, std::string_view value) {
  if (!fields.empty()) fields.push_back(' ');
  fields.append(name);
  fields.append(":'");
  for (char c : value) {
    if (c == '\'' || c == '\\') fields.push_back('\\');
    fields.push_back(c);
  }
  fields.push_back('\'');
}

}  // namespace wsbridge::log
