// The environment of a --cgidir script: websocketd's variables (the ones a
// WebSocket child gets, cgi_env.h) adjusted to CGI/1.1 (RFC 3875 §4.1):
// GATEWAY_INTERFACE=CGI/1.1, CONTENT_LENGTH and CONTENT_TYPE from the
// request, HTTP_HOST present (websocketd's CGI has it too), SCRIPT_FILENAME,
// and the --passenv variables (websocketd 0.4.1 ignores passenv for CGI and
// passes a fixed PATH; its main branch honours passenv, as we do).
#pragma once
#include <string>
#include <vector>

#include "wsbridge/bridge/cgi_env.h"

namespace wsbridge::bridge {

std::vector<std::string> build_cgi_script_env(const http::Request& request, const ConnectionFacts& facts,
                                              const EnvList& passenv, const std::string& script_filename);

}  // namespace wsbridge::bridge
