#include "cli/help_formatter.h"

#include <sstream>

#include "cli/program_text.h"

namespace wsbridge::cli {

std::string HelpFormatter::make_usage(const CLI::App*, std::string) const {
  std::ostringstream out;
  out << "\nUsage:\n"
      << "  " << kProgramName << " [options] COMMAND [ARGS...]\n"
      << "  " << kProgramName << " --help | --version | --license\n\n"
      << "Options may be written --name=value, --name value, -name=value or\n"
      << "-name value. Boolean options are given as --name or\n"
      << "--name=true|false (also 1|0|t|f); \"--binary true\" would run the\n"
      << "program \"true\". Option parsing stops at the first argument that is\n"
      << "not an option, or after \"--\": that argument is COMMAND and every\n"
      << "later argument is passed to it unchanged, even if it starts with '-'.\n"
      << "Scalar options given twice keep the last value; repeatable ones add up.\n"
      << "A value of the wrong form or out of its range stops wsbridge with\n"
      << "exit status 2 and a message saying what is allowed.\n";
  return out.str();
}

std::string HelpFormatter::make_option_name(const CLI::Option* opt, bool) const {
  // "--maxmessage, --maxframesize" and "-h, --help" read better with a space.
  std::string names;
  for (const std::string& name : opt->get_snames()) {
    names += (names.empty() ? "-" : ", -") + name;
  }
  for (const std::string& name : opt->get_lnames()) {
    names += (names.empty() ? "--" : ", --") + name;
  }
  return names;
}

std::string HelpFormatter::make_option_opts(const CLI::Option* opt) const {
  if (opt->get_expected_max() == 0) return {};  // a boolean flag
  std::string text = "=" + opt->get_type_name();
  if (opt->get_expected_max() > 1) text += " ...";
  return text;
}

std::string HelpFormatter::make_option_desc(const CLI::Option* opt) const {
  std::string text = opt->get_description();
  const std::string name = opt->get_name();
  if (name == "--help" || name == "--version" || name == "--license") return text;
  std::string value = opt->get_default_str();
  if (value.empty() || value == "[]") value = "none";
  const std::string note = "(default: " + value + ")";
  // Keep the default on the last line when it fits in 80 columns.
  const std::size_t last_line = text.size() - (text.rfind('\n') + 1);
  text += (last_line + note.size() + 1 + kHelpColumnWidth <= 80) ? " " : "\n";
  return text + note;
}

}  // namespace wsbridge::cli
