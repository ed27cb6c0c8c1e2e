// linux.psscan: every task_struct, not trusting the task list: the task
// list, the PID table, the runqueues, the children lists and a carve of
// physical memory, side by side (core/linux/task_views.h). A process a
// rootkit unlinked from the task list is `hidden`; a dead task whose memory
// is still there is `exited`. The rows: scanned_task_rows.h.
#include "core/plugin/plugin.h"
#include "plugins/linux/scanned_task_rows.h"

namespace memscope::linux_kernel {
namespace {

void run_psscan(Session& session, const PluginArgs& args, Rows<ScannedTaskRow>& rows) {
  add_scanned_tasks(session, args, rows, /*hidden_only=*/false, "among the tasks found");
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.psscan",
        .description = "every task_struct: task list, PID table, runqueues, children lists and a carve of physical memory",
        .options = scanned_task_options("do not carve physical memory (faster; no exited tasks)"),
        .required_types = {"task_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    scanned_task_columns(), run_psscan));

}  // namespace memscope::linux_kernel
