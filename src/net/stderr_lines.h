// One read of a child's stderr, as lines. Every line is logged (category
// "stderr", level error, as websocketd logs a child's stderr) when it is
// taken, so an owner that also sends the lines on (--passstderr) sends
// exactly what was logged, and lines nobody takes are logged by log_rest().
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "wsbridge/bridge/line_splitter.h"

namespace wsbridge::net {

class StderrLines {
 public:
  // `eof`: the stream ended, so the unterminated tail is a line too.
  StderrLines(bridge::LineSplitter& splitter, std::string_view input, bool eof,
              const std::string& log_fields) noexcept
      : splitter_(splitter), input_(input), eof_(eof), log_fields_(log_fields) {}
  StderrLines(const StderrLines&) = delete;
  StderrLines& operator=(const StderrLines&) = delete;

  // The next line, logged; valid until the next call. May throw bad_alloc.
  std::optional<std::string_view> next();
  // Logs every line not taken yet.
  void log_rest() {
    while (next()) {
    }
  }

 private:
  bridge::LineSplitter& splitter_;
  std::string_view input_;
  bool eof_;
  bool input_used_up_ = false;
  const std::string& log_fields_;
};

}  // namespace wsbridge::net
