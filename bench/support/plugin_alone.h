// A plugin alone in this process: run_plugin on a session whose image is
// open, profile loaded and kernel found. Beside a fresh process's figures
// (process_run.h), the difference is what the process around the plugin
// costs (start, open, profile, discovery, rendering).
#pragma once

#include <memory>
#include <string>

#include "bench/support/statistics.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::bench {

// A session on `image` with `profile` loaded and the kernel found, ready
// for run_plugin.
std::unique_ptr<Session> open_session(const std::string& image, const std::string& profile);

// What a failed run does: stop the runs and say so in PluginAlone, for a
// table that shows the failure; or throw std::runtime_error "PLUGIN:
// ERROR", for a benchmark whose table means nothing without the figure.
enum class IfPluginFails { report, throw_error };

struct PluginAlone {
  bool ok = true;     // every run succeeded
  std::string error;  // of the run that failed, the last one made
  // run_plugin's own elapsed time; the CPU time of this process (every
  // thread) around it, which a busy machine does not inflate.
  Stats wall_ms, cpu_ms;
  Table last_table;
};

// `runs` runs of `plugin` (a registered name) with `args`.
PluginAlone time_plugin_alone(Session& session, const std::string& plugin, const PluginArgs& args, int runs,
                              IfPluginFails if_fails = IfPluginFails::throw_error);

}  // namespace memscope::bench
