// Running a command as users do, in a fresh process, and measuring it from
// the outside: wall time from spawn to exit, CPU time (user + system of
// every thread, from wait4) and peak RSS (ru_maxrss).
//
// A child's ru_maxrss counts the memory it shared with this process until
// exec, so a benchmark runs its children before it grows (before opening a
// session, before reading an image into memory).
#pragma once

#include <string>
#include <vector>

#include "bench/support/statistics.h"

namespace memscope::bench {

struct ProcessOptions {
  // "NAME=value" entries put in the child's environment, each replacing
  // this process's variable of that name (the rest is inherited). The
  // braces let {.must_succeed = true} leave it out under GCC's
  // -Wmissing-field-initializers.
  std::vector<std::string> environment{};
  // The child's stdout into ProcessRun::output; otherwise it goes to
  // /dev/null, as does its stderr always (a table or a progress line on
  // the terminal would cost the child time to write).
  bool capture_output = false;
  // A run that does not exit 0 throws std::runtime_error naming the
  // command: for a benchmark whose table means nothing without it.
  bool must_succeed = false;
};

struct ProcessRun {
  bool ok = false;  // started and exited 0
  double wall_ms = 0, cpu_ms = 0, peak_rss_mib = 0;
  std::string output;  // with ProcessOptions::capture_output
};

// argv[0] is a path, or a name looked up in PATH.
ProcessRun run_process(const std::vector<std::string>& argv, const ProcessOptions& options = {});

struct Repeated {
  bool ok = true;  // the warm-up and every run exited 0
  Stats wall_ms, cpu_ms;
  double peak_rss_mib = 0;  // the largest of the runs
};

// One warm-up run (it fills the page cache and the profile cache, which
// users' later runs find full), then `runs` measured runs. Without
// must_succeed a failed run does not stop the others: the figures are
// printed beside the failure.
Repeated repeat_process(const std::vector<std::string>& argv, int runs, const ProcessOptions& options = {});

}  // namespace memscope::bench
