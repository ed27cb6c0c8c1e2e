// "For each selected process": what pslist, psaux, envars and the coming
// process plugins (maps, malfind, lsof, ...) all start with. Walks the task
// list through TaskReader (bounded, recovering past a broken link), applies
// the analyst's --pid filter, and hands each selected process to the caller,
// who may then ask for its threads or its memory. Every problem met goes to
// the one Warnings of the analysis, including --pid values that matched no
// process: an empty result is never silent.
//
//   ProcessWalk processes(kernel_view(session), rows.warnings(), PidFilter(args.ints("pid")));
//   processes.for_each([&](const Task& task) {
//     auto argv = processes.arguments(task);
//     ...
//   });
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/tasks.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// The processes the analyst asked for by PID (thread-group ID); empty
// selects every process. Remembers which PIDs it matched, so that the ones
// that matched nothing can be reported.
class PidFilter {
 public:
  PidFilter() = default;
  explicit PidFilter(const std::vector<int64_t>& pids) : wanted_(pids.begin(), pids.end()) {}

  bool empty() const { return wanted_.empty(); }
  // True if `pid` is selected (an unreadable PID is selected only when there
  // is no filter).
  bool matches(const std::optional<int64_t>& pid);
  // One warning listing the PIDs that matched nothing, naming `where` they
  // were looked for ("on the task list"); nothing if all matched.
  void report_unmatched(Warnings& warnings, std::string_view where) const;

 private:
  std::set<int64_t> wanted_;
  std::set<int64_t> matched_;
};

class ProcessWalk {
 public:
  // Resolves the task fields once (throws ProfileError without task_struct
  // and its basic fields). `warnings` must outlive the walk.
  ProcessWalk(KernelView kernel, Warnings& warnings, PidFilter filter = {});
  ProcessWalk(const ProcessWalk&) = delete;
  ProcessWalk& operator=(const ProcessWalk&) = delete;

  // Calls `visit` for each selected process (thread-group leader on
  // init_task.tasks), in list order; then warns about the PIDs of the
  // filter that no process had.
  void for_each(const std::function<void(const Task&)>& visit);

  // The threads of a process, its leader first (read, or reused when it is
  // `leader` itself).
  std::vector<Task> threads(const Task& leader);
  size_t thread_count(const Task& leader);

  // The process's user memory (its page tables, argument and environment
  // bounds), or nullopt: silently for a task without mm (kernel threads,
  // zombies), with a warning when it cannot be read.
  std::optional<ProcessMemory> memory(const Task& task);
  // The process's argv (mm->arg_start..arg_end) and environment strings
  // (env_start..env_end) as read from its own memory; nullopt when it has
  // no readable memory (as memory()). Bounded and warned about as
  // TaskReader::read_strings.
  std::optional<std::vector<std::string>> arguments(const Task& task);
  std::optional<std::vector<std::string>> environment(const Task& task);

  const KernelView& kernel() const { return kernel_; }
  const TaskReader& tasks() const { return reader_; }
  Warnings& warnings() const { return warnings_; }

 private:
  KernelView kernel_;  // before reader_, which refers to it
  TaskReader reader_;
  Warnings& warnings_;
  PidFilter filter_;
};

}  // namespace memscope::linux_kernel
