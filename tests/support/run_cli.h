// Runs the built `memscope` command as a user would, for tests of what it
// prints and how it exits: stdout and stderr captured apart, the exit
// status, no shell in between (arguments are passed as they are).
#pragma once

#include <string>
#include <vector>

namespace memscope::test {

struct CliRun {
  std::string out;   // everything written to stdout
  std::string err;   // everything written to stderr
  int status = -1;   // exit status; 128 + signal number if killed by one
};

struct CliOptions {
  // Extra environment entries ("NAME=value"), added to the test's own.
  std::vector<std::string> env = {};
  // Run with stderr on a pseudo-terminal (stdout stays a pipe), so that
  // what is drawn only on a terminal (progress bars) is drawn. `err` then
  // holds what the terminal received.
  bool stderr_is_terminal = false;
  // Written to the command's standard input (closed afterwards).
  std::string input = {};
};

// Runs MEMSCOPE_CLI_PATH with `args`. Throws std::runtime_error if the
// command cannot be started.
CliRun run_cli(const std::vector<std::string>& args, const CliOptions& options = {});

// The sample image and its profile shipped in samples/.
std::string sample_image();
std::string sample_profile();

}  // namespace memscope::test
