// The kernel's symbols as a profile needs them, from its own kallsyms: a
// symbol table in System.map's terms (link-time addresses, nm letters), and
// the kernel's build ID from its notes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/layers/address_space.h"
#include "core/linux/discovery/kallsyms.h"
#include "profiles/system_map.h"

namespace memscope {

// The decoded table as a System.map: kernel-image addresses moved back by
// the KASLR `virtual_shift` to their link-time values (what profiles hold);
// absolute symbols (per-CPU offsets, below the kernel's half of the
// address space) kept as they are.
SystemMap system_map_from_kallsyms(const KallsymsTable& table, uint64_t virtual_shift, std::string source);

// The GNU build ID (hex) from the kernel's ELF notes, between __start_notes
// and __stop_notes (run-time addresses, read through `kernel`); nullopt
// when absent or unreadable.
std::optional<std::string> kernel_build_id(AddressSpace& kernel, uint64_t start_notes, uint64_t stop_notes);

}  // namespace memscope
