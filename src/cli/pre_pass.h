// The pre-pass over argv that gives CLI11 what websocketd's Go `flag`
// syntax means.
//
// Go's rules, which CLI11 cannot express: a single dash introduces long
// names ("-port=8080"), parsing stops at the first word that is not an
// option (everything after it belongs to COMMAND, even "--devconsole"), and
// a boolean never consumes the next word ("--binary true" runs the program
// `true`). So we walk argv ourselves, split off COMMAND, and rewrite every
// option into one unambiguous form for CLI11. The pre-pass asks the CLI11
// App which names exist and which of them take a value, so there is only
// one list of options.
#pragma once
#include <CLI/CLI.hpp>

#include <string>
#include <vector>

namespace wsbridge::cli {

struct PrePass {
  // One option occurrence, already rewritten for CLI11.
  struct Option {
    std::string name;  // without dashes, as the user spelled it
    bool is_flag = false;
    std::string value;  // for flags "true" or "false"

    // Flags go to CLI11 as "--name=true"; other options as the two words
    // "--name" "value", because CLI11 treats "--name=" (an empty value) as
    // "--name" and would then swallow the next word, and a separate word is
    // taken verbatim even when it starts with '-'.
    void append_to(std::vector<std::string>& args) const;
  };

  std::string error;  // a syntax error in Go's words; empty when the words are sound
  bool help = false;  // --help/-h seen; `options` holds only what preceded it
  std::vector<Option> options;
  bool has_command = false;
  std::string command;
  std::vector<std::string> command_args;
};

PrePass read_flag_syntax(const CLI::App& app, int argc, const char* const* argv);

}  // namespace wsbridge::cli
