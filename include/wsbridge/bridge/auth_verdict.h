// What an --auth program decided about one request, read from its exit
// status and what it printed (sans-IO: the caller runs the program).
//
// Exit status 0 allows the request. Its stdout lines REMOTE_USER=... and
// AUTH_<NAME>=... (NAME of A-Z, 0-9 and _) become variables of the endpoint
// program's environment; any other non-empty line is ignored and reported
// for the log. Any other exit (a non-zero status, a signal) refuses it: with
// 403, or with the status and headers of a CGI header block the program
// printed first ("Status: 401" and a WWW-Authenticate line; a Location
// alone means 302), followed by what it printed after the block as the body.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "wsbridge/http/request.h"

namespace wsbridge::bridge {

struct AuthVerdict {
  bool allowed = false;
  // Refused: the response.
  int status = 403;
  std::string reason;                 // the program's reason phrase, if it gave one
  std::vector<http::Header> headers;  // from its header block
  std::string body;                   // what followed the header block
  // Allowed: variables for the endpoint program, in the order printed.
  std::vector<std::pair<std::string, std::string>> environment;
  // Lines that were not understood (or a header block that was unusable),
  // each said once in the log.
  std::vector<std::string> ignored;
};

// wait_status as from waitpid; output is everything the program printed.
AuthVerdict read_auth_verdict(int wait_status, std::string_view output);

}  // namespace wsbridge::bridge
