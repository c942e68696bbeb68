// The environment a child sees: websocketd 0.4.1's CGI-style variables, in
// its order, plus the --passenv variables captured at start-up.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::bridge {

using EnvList = std::vector<std::pair<std::string, std::string>>;

// Reads the --passenv list (comma-separated names, no trimming, as websocketd)
// from the server's own environment once. Empty or unset variables are
// skipped, CR/LF become spaces and values are trimmed; HTTPS is never passed.
// `lookup` is getenv in production and a fake in tests.
EnvList capture_passenv(std::string_view names, const char* (*lookup)(const char*));

struct ConnectionFacts {
  std::string remote_addr;    // IP without brackets
  std::string remote_port;    // decimal
  std::string remote_host;    // = remote_addr unless reverse lookup found a name
  bool tls = false;
  std::string script_name;    // "/" in command mode
  std::string path_info;      // decoded
  std::string unique_id;      // also the log id
  std::string server_software;  // e.g. "wsbridge/0.1.0"
};

// Builds the child's environment as "NAME=value" strings. Order follows
// websocketd (SERVER_SOFTWARE, passenv, REMOTE_ADDR, ... HTTP_*); when a name
// repeats, the last value wins and keeps the first position. Header names map
// to HTTP_<UPPER_WITH_UNDERSCORES>; Host is not passed (websocketd doesn't),
// and neither is Proxy (httpoxy, a deliberate difference); names with
// characters outside [A-Za-z0-9-_] are skipped; values have CR/LF replaced
// by spaces and are trimmed; repeated headers are joined with ", ".
std::vector<std::string> build_child_env(const http::Request& request, const ConnectionFacts& facts,
                                         const EnvList& passenv);

}  // namespace wsbridge::bridge
