// The one definition of every option: its names, the field it fills, its
// help text and the check of its value's form and range.
#pragma once
#include <CLI/CLI.hpp>

#include <memory>

#include "cli/option_extras.h"
#include "wsbridge/cli/config.h"

namespace wsbridge::cli {

// A CLI11 App whose options write into `config` and `extras`. Defaults shown
// in --help are read from those fields, so they cannot drift.
std::unique_ptr<CLI::App> build_app(Config& config, OptionExtras& extras);

}  // namespace wsbridge::cli
