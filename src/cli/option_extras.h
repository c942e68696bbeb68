// Option values that CLI11 writes to but that are not Config fields as
// given: words and decimal seconds that parse_args turns into Config
// fields once every option has been read.
#pragma once
#include <string>
#include <vector>

namespace wsbridge::cli {

struct OptionExtras {
  std::string loglevel;
  std::string ping_interval;     // seconds → Config::pingms
  std::string shutdown_timeout;  // seconds → Config::shutdown_timeout_ms
  std::string auth_timeout;      // seconds → Config::auth_timeout_ms
  std::string room_linger = "0"; // seconds → Config::room_linger_ms
  std::string room_broker;       // redis://HOST:PORT/DB → Config::room_broker_*
  std::string slow_client = "close";
  std::string unixsocket_mode = "0666";
  std::string logformat = "text";
  std::string exit_close_codes = "1011";  // → Config::exit_status_close_codes
  std::vector<std::string> subprotocols;  // comma-separated lists → Config::subprotocols
  std::string framing = "line";           // → Config::framing
  bool version = false;
  bool license = false;
};

}  // namespace wsbridge::cli
