// The rows of linux.psscan, shared with linux.hidden_processes (which gives
// the hidden ones only, with the same columns, so a script reads both
// alike): one row per task_struct that task_views.h found.
#pragma once

#include <optional>
#include <string>

#include "core/plugin/plugin.h"

namespace memscope::linux_kernel {

struct ScannedTaskRow {
  Address offset{};
  std::optional<int64_t> pid{}, tid{}, ppid{};
  std::optional<std::string> comm{}, state{};
  bool in_task_list = false, in_pid_table = false, on_runqueue = false, carved = false, exited = false, hidden = false;
  bool valid = true;
};

// A function, not a global: the plugins register from static initializers
// in other files, which may run before a global here is built.
const RowSchema<ScannedTaskRow>& scanned_task_columns();

// The options both plugins take: --pid, --no-carve (whose help says what
// skipping the carve costs in that plugin).
std::vector<PluginOption> scanned_task_options(const std::string& no_carve_help);

// Scans the tasks (task list, PID table, runqueues, children lists and,
// unless --no-carve, a carve of physical memory) and adds a row for each
// that --pid matches; with `hidden_only`, only the hidden ones. A --pid
// value that matches nothing is warned about, "`among`" saying where it
// was looked for.
void add_scanned_tasks(Session& session, const PluginArgs& args, Rows<ScannedTaskRow>& rows, bool hidden_only,
                       const std::string& among);

}  // namespace memscope::linux_kernel
