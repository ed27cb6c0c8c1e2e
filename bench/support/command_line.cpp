#include "bench/support/command_line.h"

#include <filesystem>
#include <stdexcept>

namespace memscope::bench {

CommandLine::CommandLine(int argc, char** argv) : arguments_(argv, argv + argc) {}

bool CommandLine::next() {
  if (at_ + 1 >= arguments_.size()) return false;
  ++at_;
  return true;
}

std::string CommandLine::value() {
  if (at_ + 1 >= arguments_.size()) throw std::runtime_error(arguments_[at_] + " needs a value");
  return arguments_[++at_];
}

std::string default_cli() {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

}  // namespace memscope::bench
