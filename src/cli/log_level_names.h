// The words --loglevel takes, shared by the option table (its default) and
// parse_log_level.
#pragma once
#include "wsbridge/cli/config.h"

namespace wsbridge::cli {

// LogLevel::Debug → "debug" ...
const char* log_level_name(LogLevel level);

}  // namespace wsbridge::cli
