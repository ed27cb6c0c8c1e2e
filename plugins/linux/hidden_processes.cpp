// linux.hidden_processes: the rows of linux.psscan whose task is hidden:
// alive (in the PID table, on a runqueue or on its parent's children list)
// but missing from the task list that ps, /proc and pslist walk. The
// columns are psscan's (a test checks they stay the same).
#include "core/linux/processes.h"
#include "core/linux/task_views.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct HiddenProcessRow {
  Address offset{};
  std::optional<int64_t> pid{}, tid{}, ppid{};
  std::optional<std::string> comm{}, state{};
  bool in_task_list = false, in_pid_table = false, on_runqueue = false, carved = false, exited = false, hidden = false;
  bool valid = true;
};

const RowSchema<HiddenProcessRow> kHiddenProcessColumns{
    {"offset", &HiddenProcessRow::offset, "address of the task_struct"},
    {"pid", &HiddenProcessRow::pid, "process ID (thread-group ID)"},
    {"tid", &HiddenProcessRow::tid, "thread ID (task_struct.pid)"},
    {"ppid", &HiddenProcessRow::ppid, "parent's process ID (real_parent)"},
    {"comm", &HiddenProcessRow::comm, "command name"},
    {"state", &HiddenProcessRow::state, "state as ps shows it (R, S, D, I, Z, X, ...)"},
    {"in_task_list", &HiddenProcessRow::in_task_list, "on the task list (init_task.tasks, or a listed process's threads)"},
    {"in_pid_table", &HiddenProcessRow::in_pid_table, "in the PID table (init_pid_ns.idr or the pid hash)"},
    {"on_runqueue", &HiddenProcessRow::on_runqueue, "a CPU's current or idle task, or waiting on its runqueue"},
    {"carved", &HiddenProcessRow::carved, "found by carving physical memory"},
    {"exited", &HiddenProcessRow::exited, "a dead task found only by carving"},
    {"hidden", &HiddenProcessRow::hidden, "alive (PID table, runqueue or a parent's children) but not on the task list"},
    {"valid", &HiddenProcessRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

void run_hidden_processes(Session& session, const PluginArgs& args, Rows<HiddenProcessRow>& rows) {
  KernelView view = kernel_view(session);
  TaskViewOptions options;
  options.carve = !args.flag("no-carve");
  options.carve_options.progress = "carving task_structs";
  PidFilter filter(args.ints("pid"));
  for (const ScannedTask& t : scan_tasks(view, rows.warnings(), options)) {
    if (!t.hidden || !filter.matches(t.task.pid)) continue;
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
  filter.report_unmatched(rows.warnings(), "among the hidden processes");
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.hidden_processes",
        .description = "processes alive in the kernel but unlinked from the task list (psscan's hidden rows)",
        .options = {pid_option(),
                    {"no-carve", PluginOption::Kind::Flag, "do not carve physical memory (faster; the carved column is then false)", false}},
        .required_types = {"task_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    kHiddenProcessColumns, run_hidden_processes));

}  // namespace memscope::linux_kernel
