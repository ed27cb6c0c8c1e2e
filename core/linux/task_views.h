// Every task_struct the kernel still knows of, and how it knows it: the
// cross-view behind linux.psscan and linux.hidden_processes. A rootkit that
// hides a process usually unlinks it from one structure (the task list,
// which ps, /proc and pslist walk) and leaves the others, which the kernel
// needs to run and signal the task:
//   the task list     init_task.tasks, and each listed process's threads;
//   the PID table     init_pid_ns.idr (or the pid hash), through pid->tasks;
//   the runqueues     each CPU's curr and idle task, its CFS tree (group
//                     entities descended), RT queues and deadline tree;
//   children lists    each known task's children, from init_task down;
//   the carve         task_structs found in physical memory (task_carver.h).
// A task seen by any view but the list is hidden, unless it is a CPU's idle
// task (pid 0), which the kernel never lists; a task only the carve finds is
// an exited one whose memory is not reused yet when its memory says it
// exited (an exit state, TASK_DEAD), and is named in a warning otherwise.
//
// A view that cannot be used on this kernel (a profile without the PID
// table's types, a kernel without per-CPU runqueues) is a warning naming
// what is missing; the other views still count.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/task_carver.h"
#include "core/linux/tasks.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

enum TaskViewBits : unsigned {
  kTaskInList = 1u << 0,
  kTaskInPidTable = 1u << 1,
  kTaskOnRunqueue = 1u << 2,
  kTaskInChildren = 1u << 3,
  kTaskCarved = 1u << 4,
};

struct TaskSighting {
  uint64_t address = 0;              // kernel virtual address of the task_struct
  std::optional<uint64_t> physical;  // where it lies, when it translates
  unsigned views = 0;                // TaskViewBits
  bool dead = false;                 // the carve saw an exit state or TASK_DEAD
};

// Alive (the PID table, a runqueue or a parent's children list holds it)
// but not on the task list; a CPU's idle task (tid 0) never is.
bool task_hidden(unsigned views, std::optional<int64_t> tid);
// Found by the carve alone, and dead: an exited task's memory. A task the
// carve alone finds whose state is a live one is neither exited nor (by
// the views) hidden: scan_tasks warns about it.
bool task_exited(unsigned views, bool dead);

struct TaskViewOptions {
  bool carve = true;
  CarveOptions carve_options;
};

class TaskViews {
 public:
  explicit TaskViews(const KernelView& kernel);

  // init_task, the processes on its task list and their threads.
  std::vector<uint64_t> task_list(Warnings& warnings) const;
  // The tasks of init_pid_ns's PID table.
  std::vector<uint64_t> pid_table(Warnings& warnings) const;
  // Each CPU's curr and idle task and the tasks waiting on its runqueues.
  std::vector<uint64_t> runqueues(Warnings& warnings) const;
  // The tasks on the children lists of `known` and of those children, down
  // from each (bounded, each task visited once).
  std::vector<uint64_t> children(const std::vector<uint64_t>& known, Warnings& warnings) const;
  // Where the kernel maps physical memory (page_offset_base), from the
  // profile's symbol, else from tasks whose virtual and physical addresses
  // are both known; nullopt if neither says.
  std::optional<uint64_t> direct_map(const std::vector<TaskSighting>& known, Warnings& warnings) const;

  // Every task any view saw, with the views that saw it, by address, and
  // the carve's figures (when it carved).
  struct Census {
    std::vector<TaskSighting> tasks;
    std::optional<CarveResult> carve;
  };
  Census all(Warnings& warnings, const TaskViewOptions& options = {}) const;

 private:
  const KernelView& kernel_;
};

// One task of the census as psscan shows it: what it is, who sees it.
struct ScannedTask {
  Task task;
  unsigned views = 0;
  bool hidden = false;
  bool exited = false;
};

// The census read task by task (TaskReader), sorted by PID, then thread
// ID, then address; tasks whose ids cannot be read come last. `carve`
// receives the carve's figures when it ran. A task only the carve finds
// whose state is not a dead task's gets a warning naming it: it is in
// none of the kernel's views, yet did not exit.
std::vector<ScannedTask> scan_tasks(const KernelView& kernel, Warnings& warnings, const TaskViewOptions& options = {},
                                    std::optional<CarveResult>* carve = nullptr);

}  // namespace memscope::linux_kernel
