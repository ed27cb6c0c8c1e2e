// linux.psaux: each process's command line, read from its own address space
// (mm->arg_start..arg_end through its page tables). Kernel threads, which
// have no user memory, show "[comm]" as ps does.
#include "core/linux/processes.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct PsauxRow {
  std::optional<int64_t> pid{}, ppid{};
  std::optional<std::string> comm{};
  std::optional<std::vector<std::string>> args{};
  bool valid = true;
};

// One column of arguments, a list: text and CSV show it shell-quoted (an
// argument with a space is one word), JSON as an array.
const RowSchema<PsauxRow> kPsauxColumns{
    {"pid", &PsauxRow::pid, "process ID"},
    {"ppid", &PsauxRow::ppid, "parent's process ID"},
    {"comm", &PsauxRow::comm, "command name"},
    {"args", &PsauxRow::args, "the arguments (argv), or [comm] for kernel threads and zombies as ps shows them"},
    {"valid", &PsauxRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

void run_psaux(Session& session, const PluginArgs& args, Rows<PsauxRow>& rows) {
  ProcessWalk processes(kernel_view(session), rows.warnings(), PidFilter(args.ints("pid")));
  processes.for_each([&](const Task& task) {
    PsauxRow row{.pid = task.pid, .ppid = task.ppid, .comm = task.comm, .valid = task.valid};
    if (task.mm == 0) {
      // Kernel threads, and processes that have exited (zombies).
      row.args = std::vector<std::string>{"[" + task.comm.value_or("?") + "]"};
    } else if ((row.args = processes.arguments(task))) {
      // A process that overwrote its arguments leaves NUL padding behind.
      while (!row.args->empty() && row.args->back().empty()) row.args->pop_back();
    }
    rows.add(row);
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.psaux",
        .description = "command lines of the processes, read from their own memory",
        .options = {pid_option()},
        .required_types = {"task_struct", "mm_struct", "list_head"},
        .required_symbols = {"init_task"},
    },
    kPsauxColumns, run_psaux));

}  // namespace memscope::linux_kernel
