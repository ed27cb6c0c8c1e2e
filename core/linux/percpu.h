// Per-CPU variables: `DEFINE_PER_CPU(struct rq, runqueues)` is one copy per
// possible CPU, at the variable's address plus `__per_cpu_offset[cpu]`.
//
// On x86_64 SMP kernels the per-CPU section is linked at 0 (System.map
// gives `runqueues` an address like 0x2c0c0, between __per_cpu_start = 0
// and __per_cpu_end), so KASLR does not move those addresses: only the
// offsets, which the kernel computed at boot, hold the run-time location.
// Elsewhere the section lies in the kernel image and moves with it. The
// profile says which (the symbols' addresses), never an assumption.
//
// The possible CPUs come from `__cpu_possible_mask` (4.5+; `cpu_possible_bits`
// before), else `nr_cpu_ids`; a kernel without `__per_cpu_offset` is built
// for one CPU and its variables are where the symbol says. Offsets read from
// the image are checked: a CPU whose copy does not translate is dropped with
// a warning naming the address.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

class PerCpu {
 public:
  // Reads the offsets and the possible CPUs once. Never throws for bad
  // memory: problems are added to `warnings` (and CPUs that cannot be used
  // are left out).
  PerCpu(const KernelView& kernel, Warnings& warnings);

  // The possible CPUs whose offset could be read, ascending.
  const std::vector<unsigned>& cpus() const { return cpus_; }
  uint64_t offset(unsigned cpu) const;
  // Where the CPUs came from: "__cpu_possible_mask", "nr_cpu_ids", ...
  const std::string& source() const { return source_; }

  // Run-time address of CPU `cpu`'s copy of the per-CPU variable `symbol`.
  // Throws ProfileError if the profile lacks the symbol.
  uint64_t address(std::string_view symbol, unsigned cpu) const;
  // That copy as an object of `type_name`.
  Object object(std::string_view symbol, std::string_view type_name, unsigned cpu) const;

 private:
  const KernelView& kernel_;
  std::vector<unsigned> cpus_;
  std::vector<uint64_t> offsets_;  // by CPU number
  std::string source_;
  uint64_t section_start_ = 0, section_end_ = 0;
  bool zero_based_ = false;
};

}  // namespace memscope::linux_kernel
