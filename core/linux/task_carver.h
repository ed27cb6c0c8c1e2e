// Carving physical memory for task_structs: what is left of tasks no list
// holds any more (exited ones whose memory is not reused yet) and of tasks
// a rootkit unlinked from every list it knew of. psscan cross-checks what
// the carve finds against the kernel's own views (task_views.h).
//
// Two stages, on the one scanning engine (core/scan/scan_engine.h):
//   1. on every core, each 16-byte-aligned position of each chunk is tested
//      on its bytes alone (no reads, no translation): pid and tgid in
//      range, a printable NUL-terminated comm, kernel pointers where the
//      task's list links, parents, credentials and mm are, a state the
//      kernel can be in. Almost every position fails the first test;
//   2. on the calling thread, each candidate is validated through the
//      kernel's page tables, field by field: its `tasks` links point back
//      (or are self-linked, as a rootkit leaves them, or poisoned, as
//      release_task leaves them), its parent and group leader are readable
//      tasks (the leader of the same thread group), its cred translates
//      (a dead task's may be NULL: exit_creds), its mm is NULL or an
//      mm_struct whose pgd translates.
// task_structs are allocated 64-byte aligned (fork.c: max(L1_CACHE_BYTES,
// ARCH_MIN_TASKALIGN)); 16 leaves room for allocators that differ.
//
// Bounded: the engine's memory budget, at most max_hits_per_chunk
// candidates per chunk (the rest counted and reported), and every read in
// validation checked. Random or hostile bytes cost time proportional to the
// image and give no task.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"
#include "core/scan/scan_engine.h"
#include "core/util/limits.h"

namespace memscope::linux_kernel {

struct CarvedTask {
  uint64_t physical = 0;
  uint64_t address = 0;  // kernel virtual address (the direct map's)
  bool dead = false;     // an exit state, or TASK_DEAD: a task that exited
};

struct CarveOptions {
  unsigned threads = 0;  // 0: every core
  std::string progress;  // a progress bar's label ("" for none)
  const CancelToken* cancel = &interrupt_token();
  // The max_candidates limit (core/util/limits.h) unless set.
  size_t max_candidates_per_chunk = active_limits().max_candidates;
  uint64_t begin = 0, end = ~uint64_t{0};  // physical range to carve
};

struct CarveResult {
  std::vector<CarvedTask> tasks;  // validated, by physical address
  uint64_t candidates = 0;        // positions that passed the byte tests
  uint64_t rejected = 0;          // candidates validation refused
  ScanStats stats;
};

class TaskCarver {
 public:
  // Resolves the fields once; throws ProfileError naming what the profile
  // lacks.
  explicit TaskCarver(const KernelView& kernel);

  // Carves `physical` (the layer under the kernel's page tables). A
  // candidate at physical address p is the task_struct at direct_map + p.
  // Problems (dropped candidates, an interrupted scan, read faults) go to
  // `warnings`.
  CarveResult carve(AddressSpace& physical, uint64_t direct_map, Warnings& warnings,
                    const CarveOptions& options = {}) const;

  // Stage 1 on the bytes at `data` (at least bytes_needed() of them).
  bool plausible_bytes(const uint8_t* data) const;
  size_t bytes_needed() const { return needed_; }
  // Stage 2 for the task_struct at kernel address `address`; `why` says
  // what failed; `dead` is set for a task that exited (an exit state or
  // TASK_DEAD).
  bool validate(uint64_t address, std::string* why = nullptr, bool* dead = nullptr) const;

 private:
  struct Field {
    uint64_t offset = 0, size = 0;
  };
  Field field(const char* name) const;
  bool dead_bytes(const uint8_t* data) const;

  const KernelView& kernel_;
  Field pid_, tgid_, comm_, tasks_, real_parent_, parent_, group_leader_, cred_, real_cred_, mm_;
  std::optional<Field> state_, exit_state_, active_mm_;
  uint64_t tasks_next_ = 0, tasks_prev_ = 0;
  uint64_t mm_pgd_ = 0;
  uint64_t kernel_half_ = 0;  // the lowest kernel address (4- or 5-level paging)
  size_t needed_ = 0;
};

}  // namespace memscope::linux_kernel
