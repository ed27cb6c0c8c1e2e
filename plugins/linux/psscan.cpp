// linux.psscan: every task_struct, not trusting the task list: the task
// list, the PID table, the runqueues, the children lists and a carve of
// physical memory, side by side (core/linux/task_views.h). A process a
// rootkit unlinked from the task list is `hidden`; a dead task whose memory
// is still there is `exited`.
#include "core/linux/processes.h"
#include "core/linux/task_views.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct PsscanRow {
  Address offset{};
  std::optional<int64_t> pid{}, tid{}, ppid{};
  std::optional<std::string> comm{}, state{};
  bool in_task_list = false, in_pid_table = false, on_runqueue = false, carved = false, exited = false, hidden = false;
  bool valid = true;
};

const RowSchema<PsscanRow> kPsscanColumns{
    {"offset", &PsscanRow::offset, "address of the task_struct"},
    {"pid", &PsscanRow::pid, "process ID (thread-group ID)"},
    {"tid", &PsscanRow::tid, "thread ID (task_struct.pid)"},
    {"ppid", &PsscanRow::ppid, "parent's process ID (real_parent)"},
    {"comm", &PsscanRow::comm, "command name"},
    {"state", &PsscanRow::state, "state as ps shows it (R, S, D, I, Z, X, ...)"},
    {"in_task_list", &PsscanRow::in_task_list, "on the task list (init_task.tasks, or a listed process's threads)"},
    {"in_pid_table", &PsscanRow::in_pid_table, "in the PID table (init_pid_ns.idr or the pid hash)"},
    {"on_runqueue", &PsscanRow::on_runqueue, "a CPU's current or idle task, or waiting on its runqueue"},
    {"carved", &PsscanRow::carved, "found by carving physical memory"},
    {"exited", &PsscanRow::exited, "a dead task found only by carving"},
    {"hidden", &PsscanRow::hidden, "alive (PID table, runqueue or a parent's children) but not on the task list"},
    {"valid", &PsscanRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

void run_psscan(Session& session, const PluginArgs& args, Rows<PsscanRow>& rows) {
  KernelView view = kernel_view(session);
  TaskViewOptions options;
  options.carve = !args.flag("no-carve");
  options.carve_options.progress = "carving task_structs";
  PidFilter filter(args.ints("pid"));
  for (const ScannedTask& t : scan_tasks(view, rows.warnings(), options)) {
    if (!filter.matches(t.task.pid)) continue;
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
  filter.report_unmatched(rows.warnings(), "among the tasks found");
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.psscan",
        .description = "every task_struct: task list, PID table, runqueues, children lists and a carve of physical memory",
        .options = {pid_option(),
                    {"no-carve", PluginOption::Kind::Flag, "do not carve physical memory (faster; no exited tasks)", false}},
        .required_types = {"task_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    kPsscanColumns, run_psscan));

}  // namespace memscope::linux_kernel
