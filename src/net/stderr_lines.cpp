#include "net/stderr_lines.h"

#include "log/logger.h"

namespace wsbridge::net {

std::optional<std::string_view> StderrLines::next() {
  std::optional<std::string_view> line;
  if (!input_used_up_) {
    line = splitter_.next_line(input_);
    if (!line) input_used_up_ = true;
  }
  // At end of stream the tail comes last, possibly in several cut pieces.
  if (!line && eof_) line = splitter_.finish();
  if (line) log::write(log::LogLevel::Error, "stderr", log_fields_, *line);
  return line;
}

}  // namespace wsbridge::net
