// Symbol lookup in the kernel's own compressed symbol table (kallsyms),
// read through a kernel virtual address space. Linux 6.x publishes the
// table addresses in VMCOREINFO, so an image can name kernel symbols without
// any profile: kernel discovery uses it to find linux_banner.
//
// Layout (kernel/kallsyms.c, scripts/kallsyms.c): kallsyms_names is a stream
// of entries, each a length (one byte, or two when the first has bit 7 set)
// followed by that many token indices; kallsyms_token_index[256] gives each
// token's offset in kallsyms_token_table (NUL-terminated strings). The first
// character of an expanded name is its nm type letter. kallsyms_offsets[i]
// holds symbol i's address relative to kallsyms_relative_base.
//
// Every count and length comes from the image and is capped.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/linux/discovery/vmcoreinfo.h"

namespace memscope {

struct KallsymsTables {
  uint64_t names = 0;          // kallsyms_names
  uint64_t num_syms = 0;       // kallsyms_num_syms (an unsigned int)
  uint64_t token_table = 0;    // kallsyms_token_table
  uint64_t token_index = 0;    // kallsyms_token_index (u16[256])
  uint64_t offsets = 0;        // kallsyms_offsets (s32 per symbol)
  uint64_t relative_base = 0;  // kallsyms_relative_base (an unsigned long)
};

// The table addresses VMCOREINFO gives (Linux 6.x), or nullopt.
std::optional<KallsymsTables> kallsyms_tables(const VmcoreInfo& vmcoreinfo);

// Most symbols a kernel can have before the table is judged corrupt.
constexpr uint64_t kMaxKallsyms = uint64_t{1} << 22;

// Run-time addresses of those of `names` that the table holds (first
// occurrence of each). Reads through `kernel`, a kernel virtual space;
// throws ReadError when the tables cannot be read, Error when they are
// inconsistent. Addresses of kernel-image symbols are computed for both
// kernel configurations (absolute per-CPU or not): a negative offset is
// base - 1 - offset, a non-negative one base + offset.
std::map<std::string, uint64_t> lookup_kallsyms(AddressSpace& kernel, const KallsymsTables& tables,
                                                const std::vector<std::string>& names);

}  // namespace memscope
