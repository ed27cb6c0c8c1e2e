// Subcommands of the `memscope` tool. Each lives in its own cli/command_*.cpp
// and registers itself with MEMSCOPE_REGISTER(command_registry(), ...);
// main.cpp parses the global options (accepted before or after the
// subcommand name, as Volatility 3 users type them) and dispatches by name.
#pragma once

#include <boost/program_options.hpp>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/util/error.h"
#include "core/util/limits.h"
#include "core/util/registry.h"

namespace memscope {
struct SessionOptions;
}

namespace memscope::cli {

namespace po = boost::program_options;

// Exit statuses of the command (docs/cli.md).
enum ExitStatus : int {
  kExitOk = 0,
  kExitFailed = 1,      // the analysis could not be done (bad image, no profile)
  kExitUsage = 2,       // unknown option, subcommand or plugin, bad value, unused argument
  kExitIncomplete = 3,  // --strict: the analysis ran, but with warnings
  kExitInterrupted = 130,
};

// The command line is wrong (exit status 2): an unknown name, a bad value,
// an argument that would not be used. Its message says what to type.
class UsageError : public Error {
 public:
  using Error::Error;
};

// An error whose message is what the analyst reads first, one line, with
// the longer story (what was tried) shown only with -v.
class DetailedError : public Error {
 public:
  DetailedError(const std::string& message, std::string details) : Error(message), details_(std::move(details)) {}
  const std::string& details() const { return details_; }

 private:
  std::string details_;
};

// Options every subcommand accepts.
struct GlobalOptions {
  std::string file;                      // -f/--file IMAGE (the first, if several)
  std::vector<std::string> files;        // every -f, for commands that take many_images
  std::string profile;                   // -p/--profile FILE
  std::vector<std::string> symbol_dirs;  // -s/--symbols DIR (repeatable)
  std::vector<std::string> plugin_dirs;  // --plugin-dir DIR (repeatable): plugin libraries, loaded first
  std::string btf;                       // --btf FILE: the kernel's types
  std::string system_map;                // --system-map FILE: the kernel's symbols
  // -o/--output (or -r/--renderer): text, json, jsonl, csv or none, as
  // main.cpp normalised it (Volatility's quick and pretty are text); for a
  // command whose -o is a file (profile generate), the file.
  std::string output = "text";
  bool output_given = false;  // -o or -r was on the command line
  bool quiet = false;         // -q: no progress bars
  bool verbose = false;       // -v: an error's details
  bool strict = false;        // --strict: exit status 3 when there are warnings
  bool wide = false;          // --wide: text cells are never cut to the terminal
  Limits limits;              // --max-list, --max-string, --max-object, --max-candidates (docs/limits.md)
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
  // Runs it; returns the process exit status. Throw UsageError for a
  // mistake on the command line (status 2), memscope::Error (or any
  // std::exception) for an analysis that cannot be done (status 1).
  std::function<int(const CommandContext&)> run;
  // How many positional arguments it takes at most; more is a usage error
  // (`memscope linux.lsmod linux.pslist` does not silently drop pslist).
  size_t max_args = 0;
  // The words its first argument may be (`profile info|generate`), for
  // completion; empty: any (files).
  std::vector<std::string> actions = {};
  // The -o formats it writes; empty: every table format (text, json,
  // jsonl, csv, none).
  std::vector<std::string> outputs = {};
  // False for commands that open no image (convert takes IN and OUT):
  // -f, -p, -s, --btf and --system-map are then usage errors, not ignored.
  bool uses_image = true;
  // True for commands that take several -f (report); for the others a
  // second -f is a usage error, not a silently dropped image.
  bool many_images = false;
  // Why --strict does not apply, where it does not (report's exit status
  // counts failed images; plugins lists nothing that can be incomplete):
  // --strict is then a usage error saying this, not ignored. Empty: it applies.
  std::string no_strict_because = {};
  // More sections for `memscope NAME --help` (a plugin's columns).
  std::function<std::string()> help = {};
};

// Every subcommand, sorted by name. A command file registers itself:
//   MEMSCOPE_REGISTER(command_registry(), Command{.name = "info", ...});
Registry<Command>& command_registry();
inline const std::vector<Command>& commands() { return command_registry().entries(); }

// The global options (-f, -p, -o, ...), bound to `global`.
po::options_description global_options(GlobalOptions& global);

// Throws memscope::Error("<what>: ...") when the global -f option is missing.
const std::string& require_image(const GlobalOptions& global);

// The Session options given by -f, -p, -s, --btf and --system-map (throws
// without -f).
SessionOptions session_options(const GlobalOptions& global);

// Prints each warning on stderr ("warning: ...", whatever -q says: -q
// hides progress, never that a result is incomplete) and returns the exit
// status: 3 with --strict if there was any, else 0.
int report_warnings(const GlobalOptions& global, const std::vector<std::string>& warnings);
// One "warning: ..." line on stderr. Warnings quote the image (a comm, a
// path, a note's text): control characters and bytes that are not UTF-8
// are shown as '.', so that a crafted image cannot drive the terminal.
void print_warning(std::string_view warning);

// Makes every registered plugin a subcommand of its own name.
void register_plugin_commands();

}  // namespace memscope::cli
