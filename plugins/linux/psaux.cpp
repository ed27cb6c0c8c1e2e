// linux.psaux: each process's command line, read from its own address space
// (mm->arg_start..arg_end through its page tables). Kernel threads, which
// have no user memory, show "[comm]" as ps does.
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/plugin/cells.h"
#include "core/linux/tasks.h"

namespace memscope::linux_kernel {
namespace {

std::vector<Column> psaux_columns() {
  return {
      {"pid", ColumnType::Int, "process ID"},
      {"ppid", ColumnType::Int, "parent's process ID"},
      {"comm", ColumnType::String, "command name"},
      {"argv", ColumnType::StringList, "the arguments (empty for kernel threads)"},
      {"args", ColumnType::String, "argv joined by spaces, or [comm] for kernel threads"},
  };
}

std::string join(const std::vector<std::string>& argv) {
  std::string out;
  for (const std::string& a : argv) {
    if (!out.empty()) out += ' ';
    out += a;
  }
  return out;
}

void run_psaux(Session& session, const PluginArgs& args, Table& table) {
  KernelView view = kernel_view(session);
  TaskReader reader(view);
  const std::set<int64_t> filter = pid_filter(args);
  for (uint64_t leader : reader.processes(table.warnings)) {
    Task task = reader.read(leader, table.warnings);
    if (!selected(filter, task.pid)) continue;
    Value argv, joined;
    if (task.mm == 0) {
      // Kernel threads, and processes that have exited (zombies).
      argv = std::vector<std::string>{};
      joined = std::string(1, '[').append(task.comm.value_or("?")).append(1, ']');
    } else if (auto memory = reader.memory(task, table.warnings)) {
      std::vector<std::string> list = TaskReader::read_strings(*memory->space, memory->arg_start, memory->arg_end,
                                                               task.label() + ": argv", table.warnings);
      // A process that overwrote its arguments leaves NUL padding behind.
      while (!list.empty() && list.back().empty()) list.pop_back();
      joined = join(list);
      argv = std::move(list);
    }
    table.rows.push_back(
        Row{{cell(task.pid), cell(task.ppid), cell(task.comm), std::move(argv), std::move(joined)}, {}});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), Plugin{
    .info =
        {
            .name = "linux.psaux",
            .description = "command lines of the processes, read from their own memory",
            .options = {pid_option()},
            .required_types = {"task_struct", "mm_struct", "list_head"},
            .required_symbols = {"init_task"},
            .columns = psaux_columns(),
        },
    .run = run_psaux,
});

}  // namespace memscope::linux_kernel
