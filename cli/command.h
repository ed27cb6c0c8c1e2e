// Subcommands of the `memscope` tool. Each lives in its own cli/command_*.cpp
// and registers itself with MEMSCOPE_REGISTER_COMMAND; main.cpp parses the
// global options (accepted before or after the subcommand name, as
// Volatility 3 users type them) and dispatches by name.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <vector>

#include "core/util/registry.h"

namespace memscope {
struct SessionOptions;
}

namespace memscope::cli {

namespace po = boost::program_options;

// Options every subcommand accepts.
struct GlobalOptions {
  std::string file;                      // -f/--file IMAGE
  std::string profile;                   // -p/--profile FILE
  std::vector<std::string> symbol_dirs;  // -s/--symbols DIR (repeatable)
  std::string btf;                       // --btf FILE: the kernel's types
  std::string system_map;                // --system-map FILE: the kernel's symbols
  std::string output = "text";           // -o/--output text|json|jsonl|csv
  bool quiet = false;                    // -q
};

struct CommandContext {
  const GlobalOptions& global;
  const po::variables_map& options;      // the subcommand's own options
  const std::vector<std::string>& args;  // positional arguments after the name
};

struct Command {
  std::string name;     // "info", "convert", "profile", "linux.pslist"
  std::string summary;  // one line for `memscope --help`
  std::string usage;    // e.g. "convert IN OUT [options]"; empty: "<name> [options]"
  // True when -o names an output file for this command (`profile generate
  // -o OUT.json.xz`) rather than a rendering format.
  bool output_is_file = false;
  // Adds the subcommand's own options (may be empty).
  std::function<void(po::options_description&)> add_options;
  // Runs it; returns the process exit status. Throw memscope::Error (or any
  // std::exception) for a one-line error message and exit status 1.
  std::function<int(const CommandContext&)> run;
};

// Every subcommand, sorted by name. A command file registers itself:
//   MEMSCOPE_REGISTER(command_registry(), Command{.name = "info", ...});
Registry<Command>& command_registry();
inline const std::vector<Command>& commands() { return command_registry().entries(); }

// Throws memscope::Error("<what>: ...") when the global -f option is missing.
const std::string& require_image(const GlobalOptions& global);

// The Session options given by -f, -p, -s, --btf and --system-map (throws
// without -f).
SessionOptions session_options(const GlobalOptions& global);

// Makes every registered plugin a subcommand of its own name.
void register_plugin_commands();

}  // namespace memscope::cli
