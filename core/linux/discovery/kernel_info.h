// Where the Linux kernel lies in an image: what kernel discovery finds and
// every kernel analysis needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/discovery/vmcoreinfo.h"

namespace memscope {

struct LinuxKernelInfo {
  std::string banner;      // "Linux version 6.1.0-... #1 SMP ..." (no trailing newline)
  std::string os_release;  // "6.1.0-56-amd64"
  // KASLR: run-time virtual address = link-time (profile) address + shift.
  uint64_t virtual_shift = 0;
  // Physical load displacement of the kernel image: physical address of a
  // kernel-image symbol = link-time address - __START_KERNEL_map + shift.
  // (The kernel's own phys_base variable is physical_shift - virtual_shift.)
  uint64_t physical_shift = 0;
  // Physical address of the kernel's top-level page table (init_top_pgt).
  uint64_t dtb = 0;
  int paging_levels = 4;
  // How it was found: "vmcoreinfo note", "vmcoreinfo in memory",
  // "banner probe", "banner scan", "init_task scan", "cpu note", "manual".
  std::string method;
  // One line on the evidence and the validation behind `method`.
  std::string method_detail;
  // Every distinct banner seen in memory while searching, in address order
  // (capped), plus the validated one.
  std::vector<std::string> banners_found;
  // Run-time virtual and physical address of linux_banner, when known.
  std::optional<uint64_t> banner_address;
  std::optional<uint64_t> banner_physical;
  // The VMCOREINFO that located the kernel (or that validated against it).
  std::optional<VmcoreInfo> vmcoreinfo;
  // Things an analyst should know (profile mismatch, value not validated).
  std::vector<std::string> warnings;
};

}  // namespace memscope
