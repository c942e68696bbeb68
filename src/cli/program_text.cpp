#include "cli/program_text.h"

#include <sstream>

#ifndef WSBRIDGE_VERSION
#define WSBRIDGE_VERSION "unknown"
#endif

namespace wsbridge::cli {

std::string version_line() {
  return std::string(kProgramName) + " " + WSBRIDGE_VERSION +
         " (accepts websocketd 0.4.1 command lines)\n";
}

std::string license_text() {
  return version_line() +
         "\n"
         "Copyright (c) the wsbridge authors.\n"
         "\n"
         "You may use, copy, modify, merge, publish, distribute, sublicense and sell\n"
         "copies of this software and its documentation, free of charge, for any\n"
         "purpose, provided that this copyright notice and this permission notice\n"
         "are kept in every copy or substantial portion of the software.\n"
         "\n"
         "The software comes \"as is\", without any warranty, express or implied,\n"
         "including the warranties of merchantability, fitness for a particular\n"
         "purpose and non-infringement. In no event shall the authors or copyright\n"
         "holders be liable for any claim, damages or other liability, whether in\n"
         "contract, tort or otherwise, arising from, out of or in connection with\n"
         "the software or its use.\n";
}

std::string short_usage() {
  std::ostringstream out;
  out << "Usage: " << kProgramName << " [options] COMMAND [ARGS...]\n"
      << "Run '" << kProgramName << " --help' for the list of options.\n";
  return out.str();
}

}  // namespace wsbridge::cli
