#include "log/logger.h"

#include <unistd.h>

#include <cerrno>
#include <ctime>

namespace wsbridge::log {
namespace {

LogLevel g_level = LogLevel::Access;

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
// per second, so the text is cached for the second it describes.
std::string_view current_time_text() noexcept {
  static time_t cached_second = -1;
  static char text[64];
  static size_t length = 0;
  time_t now = time(nullptr);
  if (now != cached_second) {
    struct tm parts {};
    localtime_r(&now, &parts);
    length = strftime(text, sizeof text, "%a, %d %b %Y %H:%M:%S %z", &parts);
    cached_second = now;
  }
  return {text, length};
}

void pad_to(std::string& line, std::string_view text, size_t width) {
  line.append(text);
  if (text.size() < width) line.append(width - text.size(), ' ');
}

}  // namespace

void set_level(LogLevel level) noexcept { g_level = level; }

bool enabled(LogLevel level) noexcept {
  return g_level != LogLevel::None && level != LogLevel::None && level >= g_level;
}

void write(LogLevel level, std::string_view category, std::string_view fields,
           std::string_view message) noexcept {
  if (!enabled(level)) return;
  try {
    std::string line;
    line.reserve(64 + category.size() + fields.size() + message.size());
    line.append(current_time_text());
    line.append(" | ");
    pad_to(line, level_name(level), 6);
    line.append(" | ");
    pad_to(line, category, 10);
    line.append(" | ");
    line.append(fields);
    line.append(" | ");
    line.append(message);
    line.push_back('\n');
    const char* data = line.data();
    size_t left = line.size();
    while (left > 0) {
      ssize_t n = ::write(STDOUT_FILENO, data, left);
      if (n < 0 && errno == EINTR) continue;
      // A full or closed stdout must never stall or kill the server: lines
      // that cannot be written are dropped.
      if (n <= 0) return;
      data += n;
      left -= static_cast<size_t>(n);
    }
  } catch (...) {
    // Out of memory while logging: drop the line.
  }
}

void append_field(std::string& fields, std::string_view name, std::string_view value) {
  if (!fields.empty()) fields.push_back(' ');
  fields.append(name);
  fields.append(":'");
  fields.append(value);
  fields.push_back('\'');
}

}  // namespace wsbridge::log
