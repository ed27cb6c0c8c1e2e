// linux.hidden_processes: the rows of linux.psscan whose task is hidden:
// alive (in the PID table, on a runqueue or on its parent's children list)
// but missing from the task list that ps, /proc and pslist walk. The
// columns are psscan's (scanned_task_rows.h).
#include "core/plugin/plugin.h"
#include "plugins/linux/scanned_task_rows.h"

namespace memscope::linux_kernel {
namespace {

void run_hidden_processes(Session& session, const PluginArgs& args, Rows<ScannedTaskRow>& rows) {
  add_scanned_tasks(session, args, rows, /*hidden_only=*/true, "among the hidden processes");
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.hidden_processes",
        .description = "processes alive in the kernel but unlinked from the task list (psscan's hidden rows)",
        .options = scanned_task_options("do not carve physical memory (faster; the carved column is then false)"),
        .required_types = {"task_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    scanned_task_columns(), run_hidden_processes));

}  // namespace memscope::linux_kernel
