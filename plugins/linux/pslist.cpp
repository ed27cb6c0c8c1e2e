// linux.pslist: the processes on the kernel's task list (init_task.tasks),
// one row per process, or per thread with --threads.
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/plugin/cells.h"
#include "core/linux/tasks.h"

namespace memscope::linux_kernel {
namespace {

std::vector<Column> pslist_columns() {
  return {
      {"offset", ColumnType::Address, "address of the task_struct"},
      {"pid", ColumnType::Int, "process ID (thread-group ID)"},
      {"tid", ColumnType::Int, "thread ID (task_struct.pid)"},
      {"ppid", ColumnType::Int, "parent's process ID (real_parent)"},
      {"comm", ColumnType::String, "command name (at most 15 characters)"},
      {"uid", ColumnType::UInt, "real user ID"},
      {"gid", ColumnType::UInt, "real group ID"},
      {"euid", ColumnType::UInt, "effective user ID"},
      {"start_time", ColumnType::UInt, "start time, ns since boot"},
      {"threads", ColumnType::UInt, "number of threads of the process"},
      {"kernel_thread", ColumnType::Bool, "true for kernel threads (PF_KTHREAD)"},
      {"state", ColumnType::String, "state as ps shows it (R, S, D, I, Z, ...)"},
  };
}

Row pslist_row(const Task& t, size_t threads) {
  std::optional<uint64_t> uid, gid, euid;
  if (t.creds) {
    uid = t.creds->uid;
    gid = t.creds->gid;
    euid = t.creds->euid;
  }
  return Row{{address_cell(t.address), cell(t.pid), cell(t.tid), cell(t.ppid), cell(t.comm), cell(uid), cell(gid),
              cell(euid), cell(t.start_time), Value(static_cast<uint64_t>(threads)), cell(t.kernel_thread),
              cell(t.state)},
             {}};
}

void run_pslist(Session& session, const PluginArgs& args, Table& table) {
  KernelView view = kernel_view(session);
  TaskReader reader(view);
  const std::set<int64_t> filter = pid_filter(args);
  const bool per_thread = args.flag("threads");
  for (uint64_t leader : reader.processes(table.warnings)) {
    Task task = reader.read(leader, table.warnings);
    if (!selected(filter, task.pid)) continue;
    std::vector<uint64_t> threads = reader.threads(leader, table.warnings);
    if (!per_thread) {
      table.rows.push_back(pslist_row(task, threads.size()));
      continue;
    }
    for (uint64_t thread : threads)
      table.rows.push_back(pslist_row(thread == leader ? task : reader.read(thread, table.warnings), threads.size()));
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), Plugin{
    .info =
        {
            .name = "linux.pslist",
            .description = "processes on the kernel's task list (init_task.tasks)",
            .options = {{"threads", PluginOption::Kind::Flag, "one row per thread", false}, pid_option()},
            .required_types = {"task_struct", "cred", "list_head"},
            .required_symbols = {"init_task"},
            .columns = pslist_columns(),
        },
    .run = run_pslist,
});

}  // namespace memscope::linux_kernel
