// Where the Linux kernel lies in an image: what kernel discovery finds and
// every kernel analysis needs.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace memscope {

struct LinuxKernelInfo {
  std::string banner;      // "Linux version 6.1.0-... #1 SMP ..."
  std::string os_release;  // "6.1.0-56-amd64"
  // KASLR: run-time virtual address = link-time (profile) address + shift.
  uint64_t virtual_shift = 0;
  // Physical load displacement of the kernel image.
  uint64_t physical_shift = 0;
  // Physical address of the kernel's top-level page table (init_top_pgt).
  uint64_t dtb = 0;
  int paging_levels = 4;
  // How it was found: "vmcoreinfo", "banner scan", "cpu note", "manual".
  std::string method;
  // Every distinct banner seen in memory while searching.
  std::vector<std::string> banners_found;
};

}  // namespace memscope
