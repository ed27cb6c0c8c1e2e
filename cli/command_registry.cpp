#include <algorithm>

#include "cli/command.h"
#include "core/error.h"

namespace memscope::cli {
namespace {

std::vector<Command>& registry() {
  static std::vector<Command> list;
  return list;
}

}  // namespace

void register_command(Command command) {
  auto& list = registry();
  auto at = std::lower_bound(list.begin(), list.end(), command.name,
                             [](const Command& c, const std::string& name) { return c.name < name; });
  list.insert(at, std::move(command));
}

const std::vector<Command>& commands() { return registry(); }

const std::string& require_image(const GlobalOptions& global) {
  if (global.file.empty()) throw Error("no image given: use -f/--file IMAGE");
  return global.file;
}

}  // namespace memscope::cli
