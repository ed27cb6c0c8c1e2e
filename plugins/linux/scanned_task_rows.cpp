#include "plugins/linux/scanned_task_rows.h"

#include "core/linux/processes.h"
#include "core/linux/task_views.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {

const RowSchema<ScannedTaskRow>& scanned_task_columns() {
  static const RowSchema<ScannedTaskRow> columns{
      {"offset", &ScannedTaskRow::offset, "address of the task_struct"},
      {"pid", &ScannedTaskRow::pid, "process ID (thread-group ID)"},
      {"tid", &ScannedTaskRow::tid, "thread ID (task_struct.pid)"},
      {"ppid", &ScannedTaskRow::ppid, "parent's process ID (real_parent)"},
      {"comm", &ScannedTaskRow::comm, "command name"},
      {"state", &ScannedTaskRow::state, "state as ps shows it (R, S, D, I, Z, X, ...)"},
      {"in_task_list", &ScannedTaskRow::in_task_list, "on the task list (init_task.tasks, or a listed process's threads)"},
      {"in_pid_table", &ScannedTaskRow::in_pid_table, "in the PID table (init_pid_ns.idr or the pid hash)"},
      {"on_runqueue", &ScannedTaskRow::on_runqueue, "a CPU's current or idle task, or waiting on its runqueue"},
      {"carved", &ScannedTaskRow::carved, "found by carving physical memory"},
      {"exited", &ScannedTaskRow::exited, "a dead task found only by carving"},
      {"hidden", &ScannedTaskRow::hidden, "alive (PID table, runqueue or a parent's children) but not on the task list"},
      {"valid", &ScannedTaskRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
  };
  return columns;
}

std::vector<PluginOption> scanned_task_options(const std::string& no_carve_help) {
  return {pid_option(), {"no-carve", PluginOption::Kind::Flag, no_carve_help, false}};
}

void add_scanned_tasks(Session& session, const PluginArgs& args, Rows<ScannedTaskRow>& rows, bool hidden_only,
                       const std::string& among) {
  KernelView view = kernel_view(session);
  TaskViewOptions options;
  options.carve = !args.flag("no-carve");
  options.carve_options.progress = "carving task_structs";
  PidFilter filter(args.ints("pid"));
  for (const ScannedTask& t : scan_tasks(view, rows.warnings(), options)) {
    if ((hidden_only && !t.hidden) || !filter.matches(t.task.pid)) continue;
    rows.add({.offset = Address{t.task.address},
              .pid = t.task.pid,
              .tid = t.task.tid,
              .ppid = t.task.ppid,
              .comm = t.task.comm,
              .state = t.task.state,
              .in_task_list = (t.views & kTaskInList) != 0,
              .in_pid_table = (t.views & kTaskInPidTable) != 0,
              .on_runqueue = (t.views & kTaskOnRunqueue) != 0,
              .carved = (t.views & kTaskCarved) != 0,
              .exited = t.exited,
              .hidden = t.hidden,
              .valid = t.task.valid});
  }
  filter.report_unmatched(rows.warnings(), among);
}

}  // namespace memscope::linux_kernel
