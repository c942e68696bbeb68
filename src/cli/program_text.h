// The fixed texts wsbridge prints: its name, the version and license
// (--version, --license) and the short usage hint after an error.
#pragma once
#include <string>

namespace wsbridge::cli {

constexpr const char* kProgramName = "wsbridge";

std::string version_line();
std::string license_text();
std::string short_usage();

}  // namespace wsbridge::cli
