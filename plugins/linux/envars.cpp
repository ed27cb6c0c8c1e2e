// linux.envars: each process's environment variables, read from its own
// address space (mm->env_start..env_end), one row per variable.
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/plugin/cells.h"
#include "core/linux/tasks.h"

namespace memscope::linux_kernel {
namespace {

std::vector<Column> envars_columns() {
  return {
      {"pid", ColumnType::Int, "process ID"},
      {"comm", ColumnType::String, "command name"},
      {"key", ColumnType::String, "variable name (before the first '=')"},
      {"value", ColumnType::String, "value (after the first '='; empty if there is none)"},
  };
}

void run_envars(Session& session, const PluginArgs& args, Table& table) {
  KernelView view = kernel_view(session);
  TaskReader reader(view);
  const std::set<int64_t> filter = pid_filter(args);
  for (uint64_t leader : reader.processes(table.warnings)) {
    Task task = reader.read(leader, table.warnings);
    if (!selected(filter, task.pid) || task.mm == 0) continue;
    auto memory = reader.memory(task, table.warnings);
    if (!memory) continue;
    for (const std::string& entry : TaskReader::read_strings(*memory->space, memory->env_start, memory->env_end,
                                                             task.label() + ": environment", table.warnings)) {
      if (entry.empty()) continue;  // padding after the last variable
      size_t equals = entry.find('=');
      std::string key = entry.substr(0, equals);
      std::string value = equals == std::string::npos ? std::string() : entry.substr(equals + 1);
      table.rows.push_back(Row{{cell(task.pid), cell(task.comm), std::move(key), std::move(value)}, {}});
    }
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), Plugin{
    .info =
        {
            .name = "linux.envars",
            .description = "environment variables of the processes, read from their own memory",
            .options = {pid_option()},
            .required_types = {"task_struct", "mm_struct", "list_head"},
            .required_symbols = {"init_task"},
            .columns = envars_columns(),
        },
    .run = run_envars,
});

}  // namespace memscope::linux_kernel
