// The files the command line names for the server to read at start-up
// (--sslcert, --sslkey, --sslca): each must be a regular file this process
// can open for reading. Checked before anything is bound, so a typo in a
// path is reported as such rather than as an error from deep inside TLS.
#pragma once
#include <string>

#include "wsbridge/cli/config.h"

namespace wsbridge::cli {

// "" when every named file is readable; otherwise the first that is not, as
// "--sslcert=/missing: No such file or directory" (the OS's reason).
std::string first_unreadable_file(const Config& config);

}  // namespace wsbridge::cli
