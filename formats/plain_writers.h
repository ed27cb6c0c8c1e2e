// Writers for the uncompressed image formats: raw, LiME, ELF core. They
// stream from any AddressSpace (usually a format's physical layer) in
// chunks of kWriteChunk bytes, so memory stays bounded whatever the image
// size. Used by `memscope convert` and by tests that build synthetic images.
//
// Common rules:
//  - `ranges` are physical ranges of `source` to copy; they are sorted by
//    start, empty ones are skipped, overlapping ones are refused. Every byte
//    of every range must be readable: a fault stops the write with an Error
//    (a converted image never holds invented bytes). collect_ranges()
//    gives all of a layer's ranges.
//  - out_path is created or truncated and written directly; a caller that
//    wants an atomic result writes to a temporary name and renames it.
//    Writing over the evidence file `source` reads from is refused.
//  - Errors are memscope::Error naming out_path; the partial file is left
//    for the caller to remove.
//  - progress, when set, is called after each chunk with bytes done and the
//    total to do (for raw: holes included).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/address_space.h"
#include "core/image_notes.h"

namespace memscope {

using ProgressFn = std::function<void(uint64_t done_bytes, uint64_t total_bytes)>;

inline constexpr size_t kWriteChunk = size_t{1} << 20;

// The mapped ranges of `source`, as its ranges() visitor reports them.
std::vector<Range> collect_ranges(const AddressSpace& source);

// Raw: file offset == physical address, from 0 to the end of the last
// range. Holes (and the space below the first range) read as zeros: they
// are left as sparse holes where the file system supports it, written as
// zeros otherwise. A raw image cannot tell a hole from zeroed memory.
void write_raw_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                     const ProgressFn& progress = {});

// LiME: one 32-byte header (start, inclusive end) followed by the bytes,
// per range. Holes are not stored.
void write_lime_image(AddressSpace& source, const std::vector<Range>& ranges, const std::string& out_path,
                      const ProgressFn& progress = {});

// ELF64 x86_64 ET_CORE: one PT_NOTE holding a VMCOREINFO note (when
// notes.vmcoreinfo is set) and one QEMU CPU-state note per CpuState that
// has any control register (missing ones written as 0), then one PT_LOAD
// per range with p_paddr = range start, p_vaddr = 0, p_filesz = p_memsz.
// Range data starts page-aligned in the file. More than 65534 program
// headers use the PN_XNUM extension (count in section header 0).
void write_elf_core(AddressSpace& source, const std::vector<Range>& ranges, const ImageNotes& notes,
                    const std::string& out_path, const ProgressFn& progress = {});

}  // namespace memscope
