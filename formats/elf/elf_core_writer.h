// Writes ELF cores. See formats/writers/image_output.h for the rules every writer
// follows.
#pragma once

#include <string>
#include <vector>

#include "core/layers/image_notes.h"
#include "formats/writers/image_output.h"

namespace memscope {

// Where a converted core came from, when its source's reader warned (a
// truncated or damaged image): kept as MEMSCOPE notes (memscope_note.h).
struct ElfSourceRecord {
  std::string name;  // the source file's name, without its directory
  std::vector<std::string> warnings;
};

// ELF64 x86_64 ET_CORE: one PT_NOTE holding a VMCOREINFO note (when
// notes.vmcoreinfo is set), one QEMU CPU-state note per CpuState that has
// any control register (missing ones written as 0) and, when `origin` has
// warnings, MEMSCOPE notes naming the source and its warnings; then one
// PT_LOAD per range with p_paddr = range start, p_vaddr = 0, p_filesz =
// p_memsz. Range data starts page-aligned in the file. More than 65534
// program headers use the PN_XNUM extension (count in section header 0).
void write_elf_core(AddressSpace& source, const std::vector<Range>& ranges, const ImageNotes& notes,
                    const std::string& out_path, const ProgressFn& progress = {},
                    const ElfSourceRecord& origin = {});

}  // namespace memscope
