// `struct pid` and the PID table of the initial pid namespace: the kernel's
// own index of every live task by number, which a rootkit that unlinks a
// task from the task list usually leaves alone (psscan's cross-view).
//
// The profile says which table this kernel has:
//   init_pid_ns.idr (4.15+): an IDR of struct pid * (idr.h);
//   pid_hash (before 4.15): a hash table (1 << pidhash_shift buckets) of
//     struct upid, linked by upid.pid_chain, one per namespace level.
// A struct pid's tasks hang on pid->tasks[type] (an hlist), linked by
// task_struct.pid_links[type] (4.19+) or task_struct.pids[type].node.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/hlist.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// One number of the PID table and what it leads to.
struct PidTableEntry {
  int64_t nr = 0;     // the PID (upid.nr in the initial namespace)
  uint64_t pid = 0;   // the struct pid
  uint64_t task = 0;  // the task attached as PIDTYPE_PID, 0 if none
};

class PidTable {
 public:
  // Resolves the fields and chooses the table; throws ProfileError naming
  // what the profile lacks (init_pid_ns, struct pid, the task links).
  explicit PidTable(const KernelView& kernel);

  // "init_pid_ns.idr" or "pid_hash".
  const std::string& source() const { return source_; }

  // Every number of the initial namespace's table, ascending, with the task
  // that has it as its PID (pid->tasks[PIDTYPE_PID]). A struct pid without
  // such a task (a process group or session id that outlived its leader)
  // has task 0. Bounded; problems go to `warnings` naming the address.
  std::vector<PidTableEntry> entries(Warnings& warnings, size_t limit = 4u << 20) const;

  // The tasks attached to the struct pid at `pid` as `pid_type` (an
  // enumerator of enum pid_type: "PIDTYPE_PID", "PIDTYPE_TGID", ...).
  std::vector<uint64_t> tasks_of(uint64_t pid, const std::string& pid_type, Warnings& warnings) const;
  // upid.nr of the struct pid at `pid` in the initial namespace (level 0).
  std::optional<int64_t> number(uint64_t pid, Warnings& warnings) const;

 private:
  enum class Kind { kIdr, kPidHash };
  uint64_t pid_type_index(const std::string& name) const;

  const KernelView& kernel_;
  Kind kind_;
  std::string source_;
  // task_struct: the hlist_node of pid type 0 and the stride between types.
  std::string task_link_;  // "pid_links" or "pids"
  uint64_t task_link_offset_ = 0, task_link_stride_ = 0, node_in_link_ = 0;
  uint64_t pid_tasks_offset_ = 0, hlist_head_size_ = 0;
  uint64_t numbers_offset_ = 0, upid_nr_offset_ = 0, upid_size_ = 0;
};

}  // namespace memscope::linux_kernel
