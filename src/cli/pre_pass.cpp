#include "cli/pre_pass.h"

#include <utility>

namespace wsbridge::cli {
namespace {

// Go's strconv.ParseBool, which is what `-flag=value` uses for booleans.
bool parse_go_bool(const std::string& text, bool& value) {
  static const char* const kTrue[] = {"1", "t", "T", "true", "TRUE", "True"};
  static const char* const kFalse[] = {"0", "f", "F", "false", "FALSE", "False"};
  for (const char* word : kTrue) {
    if (text == word) {
      value = true;
      return true;
    }
  }
  for (const char* word : kFalse) {
    if (text == word) {
      value = false;
      return true;
    }
  }
  return false;
}

std::string word_at(const char* const* argv, int index) {
  return argv[index] != nullptr ? argv[index] : "";
}

void take_command(PrePass& pass, int first, int argc, const char* const* argv) {
  if (first >= argc) return;
  pass.has_command = true;
  pass.command = word_at(argv, first);
  for (int i = first + 1; i < argc; ++i) pass.command_args.push_back(word_at(argv, i));
}

}  // namespace

void PrePass::Option::append_to(std::vector<std::string>& args) const {
  if (is_flag) {
    args.push_back("--" + name + "=" + value);
  } else {
    args.push_back("--" + name);
    args.push_back(value);
  }
}

PrePass read_flag_syntax(const CLI::App& app, int argc, const char* const* argv) {
  PrePass pass;
  const auto reject = [&pass](std::string message) {
    pass.error = std::move(message);
    return pass;
  };
  for (int i = 1; i < argc; ++i) {
    const std::string arg = word_at(argv, i);
    if (arg == "--") {
      take_command(pass, i + 1, argc, argv);
      return pass;
    }
    if (arg.size() < 2 || arg[0] != '-') {
      take_command(pass, i, argc, argv);
      return pass;
    }
    // Go allows one or two dashes; a third, or an empty name, is an error.
    const std::size_t dashes = arg[1] == '-' ? 2 : 1;
    std::string name = arg.substr(dashes);
    if (name.empty() || name[0] == '-' || name[0] == '=') {
      return reject("bad flag syntax: " + arg);
    }
    bool has_value = false;
    std::string value;
    if (const std::size_t eq = name.find('='); eq != std::string::npos) {
      has_value = true;
      value = name.substr(eq + 1);
      name.resize(eq);
    }
    if (name == "h" || name == "help") {
      pass.help = true;
      return pass;
    }
    const CLI::Option* opt = app.get_option_no_throw("--" + name);
    if (opt == nullptr) {
      return reject("flag provided but not defined: -" + name);
    }
    PrePass::Option normalized;
    normalized.name = name;
    if (opt->get_expected_max() == 0) {  // boolean: never takes the next word
      if (has_value) {
        bool parsed = false;
        if (!parse_go_bool(value, parsed)) {
          return reject("invalid boolean value \"" + value + "\" for -" + name +
                        ": expected true, false, 1, 0, t or f");
        }
        value = parsed ? "true" : "false";
      } else {
        value = "true";
      }
      normalized.is_flag = true;
    } else if (!has_value) {
      if (i + 1 >= argc) return reject("flag needs an argument: -" + name);
      value = word_at(argv, ++i);
    }
    normalized.value = value;
    pass.options.push_back(std::move(normalized));
  }
  return pass;
}

}  // namespace wsbridge::cli
