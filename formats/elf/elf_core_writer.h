// Writes ELF cores. See formats/writers/image_output.h for the rules every writer
// follows.
#pragma once

#include "core/layers/image_notes.h"
#include "formats/writers/image_output.h"

namespace memscope {

// ELF64 x86_64 ET_CORE: one PT_NOTE holding a VMCOREINFO note (when
// notes.vmcoreinfo is set) and one QEMU CPU-state note per CpuState that
// has any control register (missing ones written as 0), then one PT_LOAD
// per range with p_paddr = range start, p_vaddr = 0, p_filesz = p_memsz.
// Range data starts page-aligned in the file. More than 65534 program
// headers use the PN_XNUM extension (count in section header 0).
void write_elf_core(AddressSpace& source, const std::vector<Range>& ranges, const ImageNotes& notes,
                    const std::string& out_path, const ProgressFn& progress = {});


}  // namespace memscope
