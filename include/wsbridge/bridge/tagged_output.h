// --passstderr (websocketd's main branch): stdout and stderr lines are both
// sent to the client, each wrapped as {"stream":"stdout"|"stderr","data":"..."}.
#pragma once
#include <string>
#include <string_view>

namespace wsbridge::bridge {

// The JSON text for one line, escaped as Go's encoding/json does (so clients
// written for websocketd see the same bytes): \" \\ \n \r \t, other control
// characters as \u00XX, <, > and & as \u003c \u003e \u0026, U+2028/U+2029
// escaped, and invalid UTF-8 replaced with \ufffd.
std::string tag_output_line(bool from_stderr, std::string_view line);

// The text message for one output line: with --passstderr (`tagged`) its
// JSON wrapping, otherwise the line made valid UTF-8. The result may live
// in `scratch`. Throws std::bad_alloc.
std::string_view output_message_text(std::string_view line, bool from_stderr, bool tagged, std::string& scratch);

}  // namespace wsbridge::bridge
