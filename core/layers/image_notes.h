// What an image's container says about the machine, beside its bytes:
// the kernel's VMCOREINFO text (ELF/kdump notes), per-CPU register state
// (QEMU's CPU notes give CR3), and free-form metadata for `memscope info`.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace memscope {

struct CpuState {
  unsigned index = 0;  // order of the note in the image
  std::optional<uint64_t> cr0, cr3, cr4;
};

struct ImageNotes {
  // The VMCOREINFO text as the kernel wrote it ("OSRELEASE=...\n...").
  std::string vmcoreinfo;
  // Parsed "KEY=value" lines of vmcoreinfo, e.g. "SYMBOL(init_top_pgt)".
  std::map<std::string, std::string> vmcoreinfo_keys;
  std::vector<CpuState> cpus;

  // Parses `text` into vmcoreinfo / vmcoreinfo_keys.
  void set_vmcoreinfo(std::string text);
  // The first CPU's CR3, if any note gave one.
  std::optional<uint64_t> first_cr3() const;
};

// Key/value lines shown by `memscope info` for a layer ("chunk size",
// "source sha256", ...), in display order.
using LayerDescription = std::vector<std::pair<std::string, std::string>>;

}  // namespace memscope
