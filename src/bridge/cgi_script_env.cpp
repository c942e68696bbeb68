#include "wsbridge/bridge/cgi_script_env.h"

#include <string_view>

namespace wsbridge::bridge {
namespace {

bool names(std::string_view entry, std::string_view name) noexcept {
  return entry.size() > name.size() && entry.compare(0, name.size(), name) == 0 && entry[name.size()] == '=';
}

void set(std::vector<std::string>& env, std::string_view name, std::string_view value) {
  std::string entry = std::string(name) + "=" + std::string(value);
  for (std::string& existing : env) {
    if (names(existing, name)) {
      existing = std::move(entry);
      return;
    }
  }
  env.push_back(std::move(entry));
}

void erase(std::vector<std::string>& env, std::string_view name) {
  for (auto it = env.begin(); it != env.end();) it = names(*it, name) ? env.erase(it) : it + 1;
}

// Header values went through the same cleaning in build_child_env; Host and
// the two body headers are read here directly, so clean them the same way.
std::string header_value(const http::Request& request, std::string_view name) {
  std::string value = request.joined_header(name);
  for (char& c : value) {
    if (c == '\r' || c == '\n' || c == '\0') c = ' ';
  }
  return value;
}

}  // namespace

std::vector<std::string> build_cgi_script_env(const http::Request& request, const ConnectionFacts& facts,
                                              const EnvList& passenv, const std::string& script_filename) {
  std::vector<std::string> env = build_child_env(request, facts, passenv);
  set(env, "GATEWAY_INTERFACE", "CGI/1.1");
  // RFC 3875 §4.1.18: the body's length and type are CONTENT_LENGTH and
  // CONTENT_TYPE, not HTTP_ variables.
  erase(env, "HTTP_CONTENT_LENGTH");
  erase(env, "HTTP_CONTENT_TYPE");
  set(env, "CONTENT_LENGTH", header_value(request, "Content-Length"));
  set(env, "CONTENT_TYPE", header_value(request, "Content-Type"));
  if (request.find_header("Host") != nullptr) set(env, "HTTP_HOST", header_value(request, "Host"));
  set(env, "SCRIPT_FILENAME", script_filename);
  return env;
}

}  // namespace wsbridge::bridge
