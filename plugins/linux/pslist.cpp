// linux.pslist: the processes on the kernel's task list (init_task.tasks),
// one row per process, or per thread with --threads.
#include "core/linux/processes.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct PslistRow {
  Address offset{};
  std::optional<int64_t> pid{}, tid{}, ppid{};
  std::optional<std::string> comm{};
  std::optional<uint32_t> uid{}, gid{}, euid{};
  std::optional<uint64_t> start_time{};
  uint64_t threads = 0;
  std::optional<bool> kernel_thread{};
  std::optional<std::string> state{};
  bool valid = true;
};

const RowSchema<PslistRow> kPslistColumns{
    {"offset", &PslistRow::offset, "address of the task_struct"},
    {"pid", &PslistRow::pid, "process ID (thread-group ID)"},
    {"tid", &PslistRow::tid, "thread ID (task_struct.pid)"},
    {"ppid", &PslistRow::ppid, "parent's process ID (real_parent)"},
    {"comm", &PslistRow::comm, "command name (at most 15 characters)"},
    {"uid", &PslistRow::uid, "real user ID"},
    {"gid", &PslistRow::gid, "real group ID"},
    {"euid", &PslistRow::euid, "effective user ID"},
    {"start_time", &PslistRow::start_time, "start time, ns since boot"},
    {"threads", &PslistRow::threads, "number of threads of the process"},
    {"kernel_thread", &PslistRow::kernel_thread, "true for kernel threads (PF_KTHREAD)"},
    {"state", &PslistRow::state, "state as ps shows it (R, S, D, I, Z, ...)"},
    {"valid", &PslistRow::valid, "false when the task's fields cannot be a task's (memory read as one; see the warning)"},
};

PslistRow pslist_row(const Task& t, size_t threads) {
  auto id = [&](uint32_t Credentials::*which) -> std::optional<uint32_t> {
    if (!t.creds) return std::nullopt;
    return (*t.creds).*which;
  };
  return {.offset = Address{t.address},
          .pid = t.pid,
          .tid = t.tid,
          .ppid = t.ppid,
          .comm = t.comm,
          .uid = id(&Credentials::uid),
          .gid = id(&Credentials::gid),
          .euid = id(&Credentials::euid),
          .start_time = t.start_time,
          .threads = threads,
          .kernel_thread = t.kernel_thread,
          .state = t.state,
          .valid = t.valid};
}

void run_pslist(Session& session, const PluginArgs& args, Rows<PslistRow>& rows) {
  ProcessWalk processes(kernel_view(session), rows.warnings(), PidFilter(args.ints("pid")));
  const bool per_thread = args.flag("threads");
  processes.for_each([&](const Task& task) {
    if (!per_thread) {
      rows.add(pslist_row(task, processes.thread_count(task)));
      return;
    }
    std::vector<Task> threads = processes.threads(task);
    for (const Task& thread : threads) rows.add(pslist_row(thread, threads.size()));
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.pslist",
        .description = "processes on the kernel's task list (init_task.tasks)",
        .options = {{"threads", PluginOption::Kind::Flag, "one row per thread", false}, pid_option()},
        .required_types = {"task_struct", "cred", "list_head"},
        .required_symbols = {"init_task"},
    },
    kPslistColumns, run_pslist));

}  // namespace memscope::linux_kernel
