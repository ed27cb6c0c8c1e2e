// VMCOREINFO: the "KEY=value" text the Linux kernel prepares for crash dump
// tools (kernel/crash_core.c and arch_crash_save_vmcoreinfo). It names the
// release, the KASLR offset, phys_base, the page-table root and, on 6.x,
// the kallsyms tables, all as run-time addresses. It reaches us two ways:
// an ELF/kdump note written by the dumper, or the kernel's own copy in RAM
// (the vmcoreinfo_data page and the vmcoreinfo_note buffer), which any
// image of a running kernel holds.
//
// Everything here is untrusted: the text is length-capped, numbers that do
// not parse are dropped (and counted), and nothing is believed until kernel
// discovery has validated it through a page-table translation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/layers/address_space.h"

namespace memscope {

struct VmcoreInfo {
  // Where the text came from: "ELF note", "physical memory at 0x...".
  std::string source;
  std::string text;  // as found, at most kMaxVmcoreinfoBytes

  std::string os_release;                 // OSRELEASE
  std::string build_id;                   // BUILD-ID
  std::optional<uint64_t> page_size;      // PAGESIZE
  std::optional<uint64_t> kernel_offset;  // KERNELOFFSET: the virtual KASLR shift
  // NUMBER(phys_base): physical minus link-time offset of the kernel image
  // from __START_KERNEL_map, as a two's complement 64-bit value.
  std::optional<uint64_t> phys_base;
  std::optional<bool> pgtable_l5_enabled;  // NUMBER(pgtable_l5_enabled)

  std::map<std::string, uint64_t, std::less<>> symbols;   // SYMBOL(name): run-time addresses
  std::map<std::string, int64_t, std::less<>> numbers;    // NUMBER(name)
  std::map<std::string, uint64_t, std::less<>> offsets;   // OFFSET(type.member)
  std::map<std::string, uint64_t, std::less<>> sizes;     // SIZE(type)
  std::map<std::string, uint64_t, std::less<>> lengths;   // LENGTH(name)
  std::map<std::string, std::string, std::less<>> other;  // every other KEY=value
  size_t malformed_lines = 0;                             // lines without '=' or with a value that did not parse

  std::optional<uint64_t> symbol(std::string_view name) const;
  std::optional<uint64_t> offset(std::string_view type_member) const;
  // The kernel's top-level page table: SYMBOL(init_top_pgt), else
  // SYMBOL(swapper_pg_dir) (older kernels and other architectures).
  std::optional<uint64_t> top_page_table() const;
  // True if this is worth validating: a release name and a page-table root.
  bool plausible() const;
};

// VMCOREINFO_BYTES is one page; allow some slack for larger pages.
constexpr size_t kMaxVmcoreinfoBytes = 16384;

// Parses VMCOREINFO text (lines of KEY=value; a NUL ends it). Never throws
// on bad content: bad lines are counted in malformed_lines.
VmcoreInfo parse_vmcoreinfo(std::string_view text, std::string source);

// Reads the VMCOREINFO text that starts at `address` in `space` (where a
// scan found "OSRELEASE="): up to the first NUL, at most
// kMaxVmcoreinfoBytes, stopping at unreadable bytes. nullopt when the text
// is not plausible (the "OSRELEASE=%s" format string in kernel rodata, a
// fragment, garbage).
std::optional<VmcoreInfo> read_vmcoreinfo_at(AddressSpace& space, uint64_t address);

// What a scan looks for to find VMCOREINFO in RAM.
inline constexpr std::string_view kVmcoreinfoMarker = "OSRELEASE=";

}  // namespace memscope
