// Fuzzes the child environment builder with requests built directly from
// the input — header names and values with any byte, including NUL, CR, LF
// and '=' — rather than through the HTTP parser, which would never let most
// of them through. Also fuzzes capture_passenv with a fake environment.
// Invariants: every entry is "NAME=value" with a non-empty name of
// [A-Za-z0-9_] characters (passenv names aside, which the operator chose);
// no entry holds NUL; values from headers hold no CR or LF and no
// surrounding whitespace; names are unique; Host, Proxy and HTTPS never come
// from the client; every request variable websocketd defines is present.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "fuzz_input.h"
#include "wsbridge/bridge/cgi_env.h"
#include "wsbridge/http/request.h"
#include "wsbridge/http/url.h"

using wsbridge::fuzz::FuzzInput;
namespace http = wsbridge::http;

namespace {

// Splits the input at 0xFF bytes: the fields of the request, in order.
std::vector<std::string> fields_of(const std::string& rest) {
  std::vector<std::string> out(1);
  for (const char c : rest) {
    if (static_cast<unsigned char>(c) == 0xFF) {
      out.emplace_back();
    } else {
      out.back() += c;
    }
  }
  return out;
}

const std::string* g_fake_env = nullptr;  // "NAME=value\n..." for fake_getenv

const char* fake_getenv(const char* name) {
  static std::string found;
  const std::string needle = std::string(name) + '=';
  const std::string& env = *g_fake_env;
  for (std::size_t at = 0; at < env.size();) {
    std::size_t eol = env.find('\n', at);
    if (eol == std::string::npos) eol = env.size();
    if (env.compare(at, needle.size(), needle) == 0) {
      found = env.substr(at + needle.size(), eol - at - needle.size());
      return found.c_str();
    }
    at = eol + 1;
  }
  return nullptr;
}

bool is_name_char(char c) { return (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_'; }
bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzInput in(data, size);
  const std::uint8_t flags = in.take_byte();
  const std::vector<std::string> fields = fields_of(in.rest());
  if (fields.size() < 4) return 0;

  // fields: passenv names, fake server environment, target path, query,
  // then header name/value pairs.
  // --passenv comes from argv, which cannot hold a NUL byte.
  std::string passenv_names = fields[0];
  passenv_names.erase(std::remove(passenv_names.begin(), passenv_names.end(), '\0'), passenv_names.end());
  const std::string fake_env = fields[1];
  g_fake_env = &fake_env;
  const wsbridge::bridge::EnvList passenv = wsbridge::bridge::capture_passenv(passenv_names, &fake_getenv);
  for (const auto& [name, value] : passenv) {
    FUZZ_CHECK(!name.empty() && name != "HTTPS" && name.find('=') == std::string::npos);
    FUZZ_CHECK(!value.empty() && value.find_first_of(std::string("\r\n\0", 3)) == std::string::npos);
    FUZZ_CHECK(!is_space(value.front()) && !is_space(value.back()));
  }

  http::Request request;
  request.method = "GET";
  request.http_minor = flags & 1;
  // The HTTP parser lets no control byte or space into the request-target,
  // and the router refuses a path that decodes to a NUL: keep to what can
  // reach build_child_env (http_fuzz runs the whole path).
  const auto target_bytes = [](std::string s) {
    s.erase(std::remove_if(s.begin(), s.end(), [](char c) { return static_cast<unsigned char>(c) <= 0x20 || c == 0x7F; }),
            s.end());
    return s;
  };
  request.path = target_bytes(fields[2]);
  request.query = target_bytes(fields[3]);
  const auto decoded = http::percent_decode_path(request.path);
  if (decoded && decoded->find('\0') != std::string::npos) return 0;
  request.has_query = (flags & 2) != 0;
  request.target = request.path + (request.has_query ? "?" + request.query : "");
  for (std::size_t i = 4; i + 1 < fields.size(); i += 2) {
    std::string value = fields[i + 1];
    // Host becomes SERVER_NAME/SERVER_PORT as it is; the parser refuses a
    // control byte (other than tab) in any header value, so none can reach
    // it. Every other header keeps hostile bytes, which the builder cleans.
    if (http::iequals(fields[i], "Host")) {
      value.erase(std::remove_if(value.begin(), value.end(),
                                 [](char c) { return static_cast<unsigned char>(c) < 0x20 && c != '\t'; }),
                  value.end());
    }
    request.headers.push_back({fields[i], value});
  }

  wsbridge::bridge::ConnectionFacts facts;
  facts.remote_addr = "::1";
  facts.remote_host = "::1";
  facts.remote_port = "1";
  facts.tls = (flags & 4) != 0;
  facts.script_name = "/";
  facts.path_info = "/";
  facts.unique_id = "7";
  facts.server_software = "wsbridge/fuzz";
  const std::vector<std::string> env = wsbridge::bridge::build_child_env(request, facts, passenv);

  std::set<std::string> names;
  for (const std::string& entry : env) {
    FUZZ_CHECK(entry.find('\0') == std::string::npos);
    const std::size_t eq = entry.find('=');
    FUZZ_CHECK(eq != std::string::npos && eq > 0);
    const std::string name = entry.substr(0, eq);
    const std::string value = entry.substr(eq + 1);
    FUZZ_CHECK(names.insert(name).second);
    bool from_passenv = false;
    for (const auto& passed : passenv) from_passenv = from_passenv || passed.first == name;
    if (name.compare(0, 5, "HTTP_") == 0 && !from_passenv) {
      for (const char c : name) FUZZ_CHECK(is_name_char(c));
      FUZZ_CHECK(name != "HTTP_HOST" && name != "HTTP_PROXY");
      FUZZ_CHECK(value.find_first_of("\r\n") == std::string::npos);
      if (!value.empty()) FUZZ_CHECK(!is_space(value.front()) && !is_space(value.back()));
    }
    if (name == "HTTPS") FUZZ_CHECK(facts.tls && value == "on");
  }
  if (!facts.tls) FUZZ_CHECK(names.count("HTTPS") == 0);
  for (const char* required : {"SERVER_SOFTWARE", "REMOTE_ADDR", "REMOTE_PORT", "SERVER_PROTOCOL", "REQUEST_METHOD",
                               "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "REQUEST_URI", "UNIQUE_ID"}) {
    FUZZ_CHECK(names.count(required) == 1);
  }
  return 0;
}
