// --help's layout: "  --name=VALUE   description (default: x)", the
// spelling users of websocketd know, rather than CLI11's "--name TEXT=x".
#pragma once
#include <CLI/CLI.hpp>

#include <cstddef>
#include <string>

namespace wsbridge::cli {

// Width of the option-name column; descriptions are wrapped by hand to fit
// the rest of 80 columns.
constexpr std::size_t kHelpColumnWidth = 30;

class HelpFormatter : public CLI::Formatter {
 public:
  HelpFormatter() { column_width(kHelpColumnWidth); }

  std::string make_usage(const CLI::App*, std::string) const override;
  std::string make_option_name(const CLI::Option* opt, bool) const override;
  std::string make_option_opts(const CLI::Option* opt) const override;
  std::string make_option_desc(const CLI::Option* opt) const override;
};

}  // namespace wsbridge::cli
