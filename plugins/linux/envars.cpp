// linux.envars: each process's environment variables, read from its own
// address space (mm->env_start..env_end), one row per variable.
#include "core/linux/processes.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct EnvarsRow {
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  std::string key{}, value{};
  bool valid = true;
};

const RowSchema<EnvarsRow> kEnvarsColumns{
    {"pid", &EnvarsRow::pid, "process ID"},
    {"comm", &EnvarsRow::comm, "command name"},
    {"key", &EnvarsRow::key, "variable name (before the first '=')"},
    {"value", &EnvarsRow::value, "value (after the first '='; empty if there is none)"},
    {"valid", &EnvarsRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

void run_envars(Session& session, const PluginArgs& args, Rows<EnvarsRow>& rows) {
  ProcessWalk processes(kernel_view(session), rows.warnings(), PidFilter(args.ints("pid")));
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) return;  // kernel threads and zombies have no environment
    auto environment = processes.environment(task);
    if (!environment) return;
    for (const std::string& entry : *environment) {
      if (entry.empty()) continue;  // padding after the last variable
      size_t equals = entry.find('=');
      rows.add({.pid = task.pid,
                .comm = task.comm,
                .key = entry.substr(0, equals),
                .value = equals == std::string::npos ? std::string() : entry.substr(equals + 1),
                .valid = task.valid});
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.envars",
        .description = "environment variables of the processes, read from their own memory",
        .options = {pid_option()},
        .required_types = {"task_struct", "mm_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    kEnvarsColumns, run_envars));

}  // namespace memscope::linux_kernel
