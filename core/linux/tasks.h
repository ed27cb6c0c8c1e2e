// Linux tasks as the process plugins see them: enumeration of the task list
// and of each process's threads, identity and credentials of a task, and
// the process's own address space with its argument and environment
// blocks. pslist, pstree, psaux and envars (and later psscan, which finds
// task_structs by scanning, and maps) share this code.
//
// Every field is found through the profile. Where kernels differ, the
// profile decides which variant this kernel has:
//   task_struct.__state (5.14+) or .state; start_boottime (5.5+),
//   real_start_time (3.17-5.4) or start_time; thread_node in
//   signal->thread_head (3.x+) or thread_group (removed in 6.7);
//   cred ids as kuid_t { val } (3.5+) or plain integers.
//
// Nothing here trusts the image: walks are bounded and recover past a
// broken link (list.h), blocks are capped, and a field that cannot be read
// leaves that value empty with a warning naming the task (warnings.h),
// never costing the other tasks. Plugins that go over the processes use
// ProcessWalk (processes.h), which adds the --pid filter on top of this.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/types/object.h"
#include "core/types/profile.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// PF_KTHREAD in task_struct.flags (include/linux/sched.h; unchanged since
// 2.6.27): the task is a kernel thread.
inline constexpr uint64_t kPfKthread = 0x00200000;

// PID_MAX_LIMIT (include/linux/threads.h) on 64-bit kernels: no pid or
// tid can be larger; a task showing one was read from something that is
// not a task.
inline constexpr int64_t kPidMaxLimit = int64_t{4} << 20;

// Upper bound for one argument or environment block. The kernel refuses an
// exec whose strings exceed 3/4 of _STK_LIM (8 MiB), i.e. 6 MiB
// (fs/exec.c), so a longer block is corrupt or forged.
inline constexpr uint64_t kMaxStringBlockBytes = 6u << 20;

struct Credentials {
  uint32_t uid = 0, gid = 0, euid = 0, egid = 0;
};

// One task_struct as read. Values that could not be read are empty; the
// warnings say why.
struct Task {
  uint64_t address = 0;
  std::optional<int64_t> pid;   // thread-group id: what ps calls the PID
  std::optional<int64_t> tid;   // task_struct.pid
  std::optional<int64_t> ppid;  // real_parent's tgid
  uint64_t real_parent = 0;     // task_struct address, 0 if unreadable
  std::optional<std::string> comm;
  std::optional<Credentials> creds;
  std::optional<uint64_t> start_time;  // ns since boot
  std::optional<std::string> state;    // as ps shows it: "R", "S", "I", "Z", ...
  std::optional<bool> kernel_thread;
  uint64_t mm = 0;  // mm_struct address; 0 for kernel threads and exited tasks
  // False when fields that were read cannot be a task's: a pid or tid
  // outside 0..PID_MAX_LIMIT, a comm with control bytes, invalid UTF-8 or
  // no NUL, a start time after the boot's present. Such a row is memory
  // read as a task (a smeared list, a wild pointer), shown with valid
  // false and a warning naming the task and `implausible`.
  bool valid = true;
  std::vector<std::string> implausible;

  // "task 0xffff... (pid 201 bash)", for messages.
  std::string label() const;
};

// A process's user memory: its own page tables and the bounds of the
// argument and environment blocks (mm_struct.arg_start..arg_end, ...).
struct ProcessMemory {
  std::unique_ptr<X86_64Paging> space;
  uint64_t pgd_physical = 0;
  uint64_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
};

// The letter ps shows for task_struct.__state/.state and .exit_state
// (fs/proc/array.c: the highest reported state bit; TASK_IDLE is "I").
std::string task_state_letter(uint64_t state, uint64_t exit_state);

class TaskReader {
 public:
  // Resolves every field once; throws ProfileError if the profile lacks
  // what any kernel has (task_struct.tasks, pid, tgid, comm, ...).
  explicit TaskReader(const KernelView& kernel);

  const KernelView& kernel() const { return kernel_; }

  // Thread-group leaders on init_task.tasks, in list order. init_task (the
  // boot CPU's idle task, pid 0) anchors the list and is not included.
  std::vector<uint64_t> processes(Warnings& warnings) const;
  // Every thread of the group led by `leader`, the leader first. A leader
  // whose thread list cannot be walked yields itself alone (with a warning).
  std::vector<uint64_t> threads(uint64_t leader, Warnings& warnings) const;
  // Reads one task; at most one warning for it, listing what failed, and
  // one when its fields are implausible (Task::valid).
  Task read(uint64_t address, Warnings& warnings) const;
  // The boot clock's present (CLOCK_BOOTTIME, ns) as the kernel last
  // updated it (tk_core's timekeeper), when the profile says where:
  // start times after it are implausible.
  std::optional<uint64_t> boot_time_now() const { return boot_now_; }

  // The process's address space, or nullopt: silently for a task without
  // mm (kernel threads, zombies), with a warning when its mm or page
  // tables cannot be read.
  std::optional<ProcessMemory> memory(const Task& task, Warnings& warnings) const;
  // The NUL-separated strings of [start, end) in `space` (a last string
  // without NUL included). At most kMaxStringBlockBytes are read; an
  // inverted or oversized range, or a page that cannot be read, gives a
  // warning naming `what` and the strings read up to there.
  static std::vector<std::string> read_strings(AddressSpace& space, uint64_t start, uint64_t end,
                                               const std::string& what, Warnings& warnings);

 private:
  enum class ThreadList { kSignalThreadHead, kThreadGroup, kNone };

  Object task(uint64_t address) const { return Object(profile_, kernel_.kernel(), task_type_, address); }

  const KernelView& kernel_;
  const Profile& profile_;
  TypeRef task_type_;
  FieldRef pid_, tgid_, comm_, flags_, real_parent_, mm_, cred_;
  std::optional<FieldRef> state_, exit_state_, start_time_;
  bool start_time_is_timespec_ = false;
  ThreadList thread_list_ = ThreadList::kNone;
  std::optional<FieldRef> signal_;
  // cred ids: "uid" or "uid.val" (kuid_t).
  FieldRef uid_, gid_, euid_, egid_;
  std::optional<uint64_t> boot_now_;
  // Fills task.valid and task.implausible.
  void judge(Task& task) const;
};

}  // namespace memscope::linux_kernel
