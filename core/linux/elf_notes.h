// An ELF image as a process maps it: the header and program headers read
// from the process's memory, its GNU build-id note (PT_NOTE, NT_GNU_BUILD_ID)
// and the file rebuilt from its loaded segments (PT_LOAD: p_offset,
// p_filesz), for linux.elfs.
//
// Bytes are found by file offset, through the windows the process maps of
// the file (each VMA maps [vm_pgoff * page, + size) of it at vm_start), so
// executables and shared objects are read alike, whatever their load bias.
// ELFCLASS64 and ELFCLASS32, little-endian (x86).
//
// The headers come from an untrusted image: the program header table and a
// note are bounded, and offsets and sizes are checked before use; a
// rebuilt file is refused beyond the caller's size bound.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"

namespace memscope::linux_kernel {

// A part of a file mapped in memory: file bytes [file_offset, + size) at
// `address`.
struct FileWindow {
  uint64_t file_offset = 0;
  uint64_t address = 0;
  uint64_t size = 0;
};

struct ElfSegment {
  uint32_t type = 0;  // PT_LOAD, PT_NOTE, ...
  uint32_t flags = 0;
  uint64_t offset = 0, vaddr = 0, filesz = 0, memsz = 0, align = 0;
};

class MappedElf {
 public:
  // A program header table larger than this is not a real one (the
  // kernel's loader refuses more than 64 KiB too).
  static constexpr uint64_t kMaxProgramHeaderBytes = 64 << 10;
  // A note segment read for the build id at most.
  static constexpr uint64_t kMaxNoteBytes = 64 << 10;

  // The ELF image whose file offset 0 lies in `windows`; nullopt when the
  // bytes there are not an ELF header (no magic, or unreadable). Sets
  // `problem` (and returns nullopt) for a header that has the magic but
  // cannot be used (a class or byte order of another machine, a program
  // header table out of bounds).
  static std::optional<MappedElf> read(AddressSpace& space, std::vector<FileWindow> windows, std::string& problem);

  bool is_64() const { return is_64_; }
  uint16_t type() const { return type_; }  // ET_EXEC, ET_DYN, ...
  const std::vector<ElfSegment>& segments() const { return segments_; }

  // The GNU build id in hex, when a PT_NOTE holding it is readable.
  std::optional<std::string> build_id(AddressSpace& space) const;

  struct Rebuilt {
    std::vector<uint8_t> bytes;
    uint64_t missing_pages = 0;  // pages of segments not in memory: zeros in `bytes`
  };
  // The file as far as its loaded segments and headers go: each PT_LOAD's
  // p_filesz bytes at p_offset, from memory (what is not mapped or not
  // present stays zero). Section headers are not loaded: e_shoff, e_shnum
  // and e_shstrndx are cleared so that tools do not read garbage. Throws
  // Error when the file would exceed `max_bytes`.
  Rebuilt rebuild(AddressSpace& space, uint64_t max_bytes) const;

 private:
  // Reads file bytes [offset, offset + n) from the windows; false if any
  // byte is outside them or unreadable (then `out` has what was read, the
  // rest zero) and `missing` (if given) counts the unreadable pages.
  bool read_file(AddressSpace& space, uint64_t offset, void* out, uint64_t n, uint64_t* missing = nullptr) const;

  std::vector<FileWindow> windows_;
  bool is_64_ = true;
  uint16_t type_ = 0;
  uint64_t header_size_ = 0, phoff_ = 0, phentsize_ = 0, phnum_ = 0;
  std::vector<ElfSegment> segments_;
};

}  // namespace memscope::linux_kernel
