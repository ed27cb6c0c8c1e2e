#include "core/linux/elf_notes.h"

#include <elf.h>

#include <algorithm>
#include <cstddef>
#include <cstring>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

constexpr uint64_t kPage = 4096;

template <typename T>
T load(const std::vector<uint8_t>& bytes, size_t offset) {
  T value{};
  std::memcpy(&value, bytes.data() + offset, sizeof value);  // little-endian host, as the image (checked)
  return value;
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

}  // namespace

bool MappedElf::read_file(AddressSpace& space, uint64_t offset, void* out, uint64_t n, uint64_t* missing) const {
  auto* bytes = static_cast<uint8_t*>(out);
  std::memset(bytes, 0, n);
  bool complete = true;
  uint64_t done = 0;
  while (done < n) {
    const uint64_t at = offset + done;
    // At most to the end of the file page: a window maps whole pages.
    uint64_t chunk = std::min(n - done, kPage - at % kPage);
    const FileWindow* window = nullptr;
    for (const FileWindow& w : windows_)
      if (at >= w.file_offset && at - w.file_offset < w.size) {
        window = &w;
        break;
      }
    bool ok = false;
    if (window) {
      chunk = std::min(chunk, window->size - (at - window->file_offset));
      ok = space.read(window->address + (at - window->file_offset), bytes + done, chunk).ok();
      if (!ok) std::memset(bytes + done, 0, chunk);
    }
    if (!ok) {
      complete = false;
      if (missing) ++*missing;
    }
    done += chunk;
  }
  return complete;
}

std::optional<MappedElf> MappedElf::read(AddressSpace& space, std::vector<FileWindow> windows, std::string& problem) {
  MappedElf elf;
  elf.windows_ = std::move(windows);
  std::vector<uint8_t> header(sizeof(Elf64_Ehdr));
  if (!elf.read_file(space, 0, header.data(), EI_NIDENT) || std::memcmp(header.data(), ELFMAG, SELFMAG) != 0)
    return std::nullopt;
  if (header[EI_DATA] != ELFDATA2LSB) {
    problem = "ELF header of another byte order (EI_DATA " + std::to_string(header[EI_DATA]) + ")";
    return std::nullopt;
  }
  if (header[EI_CLASS] != ELFCLASS64 && header[EI_CLASS] != ELFCLASS32) {
    problem = "ELF header of unknown class " + std::to_string(header[EI_CLASS]);
    return std::nullopt;
  }
  elf.is_64_ = header[EI_CLASS] == ELFCLASS64;
  elf.header_size_ = elf.is_64_ ? sizeof(Elf64_Ehdr) : sizeof(Elf32_Ehdr);
  if (!elf.read_file(space, 0, header.data(), elf.header_size_)) {
    problem = "ELF header not wholly readable";
    return std::nullopt;
  }
  if (elf.is_64_) {
    elf.type_ = load<uint16_t>(header, offsetof(Elf64_Ehdr, e_type));
    elf.phoff_ = load<uint64_t>(header, offsetof(Elf64_Ehdr, e_phoff));
    elf.phentsize_ = load<uint16_t>(header, offsetof(Elf64_Ehdr, e_phentsize));
    elf.phnum_ = load<uint16_t>(header, offsetof(Elf64_Ehdr, e_phnum));
  } else {
    elf.type_ = load<uint16_t>(header, offsetof(Elf32_Ehdr, e_type));
    elf.phoff_ = load<uint32_t>(header, offsetof(Elf32_Ehdr, e_phoff));
    elf.phentsize_ = load<uint16_t>(header, offsetof(Elf32_Ehdr, e_phentsize));
    elf.phnum_ = load<uint16_t>(header, offsetof(Elf32_Ehdr, e_phnum));
  }
  const uint64_t entry = elf.is_64_ ? sizeof(Elf64_Phdr) : sizeof(Elf32_Phdr);
  const uint64_t table = elf.phentsize_ * elf.phnum_;
  if (elf.phnum_ && (elf.phentsize_ < entry || table > kMaxProgramHeaderBytes || elf.phoff_ > UINT64_MAX - table)) {
    problem = "program header table of " + std::to_string(elf.phnum_) + " entries of " +
              std::to_string(elf.phentsize_) + " bytes at offset " + hex(elf.phoff_) + " is not usable";
    return std::nullopt;
  }
  std::vector<uint8_t> phdrs(table);
  if (table && !elf.read_file(space, elf.phoff_, phdrs.data(), table)) {
    problem = "program header table at file offset " + hex(elf.phoff_) + " is not in memory";
    return std::nullopt;
  }
  for (uint64_t i = 0; i < elf.phnum_; ++i) {
    const size_t at = i * elf.phentsize_;
    ElfSegment s;
    if (elf.is_64_) {
      s.type = load<uint32_t>(phdrs, at + offsetof(Elf64_Phdr, p_type));
      s.flags = load<uint32_t>(phdrs, at + offsetof(Elf64_Phdr, p_flags));
      s.offset = load<uint64_t>(phdrs, at + offsetof(Elf64_Phdr, p_offset));
      s.vaddr = load<uint64_t>(phdrs, at + offsetof(Elf64_Phdr, p_vaddr));
      s.filesz = load<uint64_t>(phdrs, at + offsetof(Elf64_Phdr, p_filesz));
      s.memsz = load<uint64_t>(phdrs, at + offsetof(Elf64_Phdr, p_memsz));
      s.align = load<uint64_t>(phdrs, at + offsetof(Elf64_Phdr, p_align));
    } else {
      s.type = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_type));
      s.flags = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_flags));
      s.offset = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_offset));
      s.vaddr = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_vaddr));
      s.filesz = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_filesz));
      s.memsz = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_memsz));
      s.align = load<uint32_t>(phdrs, at + offsetof(Elf32_Phdr, p_align));
    }
    elf.segments_.push_back(s);
  }
  return elf;
}

std::optional<std::string> MappedElf::build_id(AddressSpace& space) const {
  for (const ElfSegment& s : segments_) {
    if (s.type != PT_NOTE || s.filesz < sizeof(Elf64_Nhdr) || s.filesz > kMaxNoteBytes) continue;
    std::vector<uint8_t> notes(s.filesz);
    if (!read_file(space, s.offset, notes.data(), notes.size())) continue;
    // Notes are padded to 4 bytes, or 8 in a segment aligned so (gABI).
    const uint64_t alignment = s.align == 8 ? 8 : 4;
    uint64_t at = 0;
    while (at + sizeof(Elf64_Nhdr) <= notes.size()) {
      const auto namesz = load<uint32_t>(notes, at), descsz = load<uint32_t>(notes, at + 4);
      const auto type = load<uint32_t>(notes, at + 8);
      const uint64_t name_at = at + sizeof(Elf64_Nhdr);
      const uint64_t desc_at = name_at + align_up(namesz, alignment);
      if (desc_at > notes.size() || descsz > notes.size() - desc_at) break;
      if (type == NT_GNU_BUILD_ID && namesz == 4 && std::memcmp(notes.data() + name_at, "GNU", 4) == 0 && descsz > 0) {
        static const char* digits = "0123456789abcdef";
        std::string out;
        for (uint64_t i = 0; i < descsz; ++i) {
          out += digits[notes[desc_at + i] >> 4];
          out += digits[notes[desc_at + i] & 15];
        }
        return out;
      }
      at = desc_at + align_up(descsz, alignment);
    }
  }
  return std::nullopt;
}

MappedElf::Rebuilt MappedElf::rebuild(AddressSpace& space, uint64_t max_bytes) const {
  uint64_t size = std::max(header_size_, phoff_ + phentsize_ * phnum_);
  for (const ElfSegment& s : segments_) {
    if (s.type != PT_LOAD) continue;
    if (s.offset > max_bytes || s.filesz > max_bytes - s.offset)
      throw Error("its loaded segment at file offset " + hex(s.offset) + " (" + std::to_string(s.filesz) +
                  " bytes) would make a file larger than " + std::to_string(max_bytes) + " bytes");
    size = std::max(size, s.offset + s.filesz);
  }
  if (size > max_bytes) throw Error("the file would exceed " + std::to_string(max_bytes) + " bytes");
  Rebuilt out;
  out.bytes.assign(size, 0);
  read_file(space, 0, out.bytes.data(), std::max(header_size_, phoff_ + phentsize_ * phnum_));
  for (const ElfSegment& s : segments_)
    if (s.type == PT_LOAD && s.filesz) read_file(space, s.offset, out.bytes.data() + s.offset, s.filesz, &out.missing_pages);
  // Section headers lie past the loaded segments, never in memory.
  auto clear = [&](size_t offset, size_t n) { std::memset(out.bytes.data() + offset, 0, n); };
  if (is_64_) {
    clear(offsetof(Elf64_Ehdr, e_shoff), sizeof(Elf64_Off));
    clear(offsetof(Elf64_Ehdr, e_shnum), sizeof(Elf64_Half));
    clear(offsetof(Elf64_Ehdr, e_shstrndx), sizeof(Elf64_Half));
  } else {
    clear(offsetof(Elf32_Ehdr, e_shoff), sizeof(Elf32_Off));
    clear(offsetof(Elf32_Ehdr, e_shnum), sizeof(Elf32_Half));
    clear(offsetof(Elf32_Ehdr, e_shstrndx), sizeof(Elf32_Half));
  }
  return out;
}

}  // namespace memscope::linux_kernel
