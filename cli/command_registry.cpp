#include <algorithm>

#include "cli/command.h"
#include "core/util/error.h"

namespace memscope::cli {
Registry<Command>& command_registry() {
  static Registry<Command> registry("command", [](const Command& c) -> std::string_view { return c.name; });
  return registry;
}

const std::string& require_image(const GlobalOptions& global) {
  if (global.file.empty()) throw Error("no image given: use -f/--file IMAGE");
  return global.file;
}

}  // namespace memscope::cli
