#include "formats/elf/elf_core_writer.h"

#include <elf.h>

#include <cstring>
#include <filesystem>
#include <limits>

#include "core/convert/image_writer.h"
#include "core/util/error.h"
#include "formats/elf/memscope_note.h"
#include "formats/elf/qemu_cpu_note.h"

namespace memscope {
namespace {

constexpr uint64_t kElfDataAlignment = 4096;

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

void append_note(std::string& out, std::string_view owner, uint32_t type, std::string_view descriptor,
                 const std::string& out_path) {
  if (descriptor.size() > std::numeric_limits<uint32_t>::max())
    throw Error(out_path + ": note " + std::string(owner) + " is too large for an ELF note");
  Elf64_Nhdr header{};
  header.n_namesz = static_cast<uint32_t>(owner.size() + 1);
  header.n_descsz = static_cast<uint32_t>(descriptor.size());
  header.n_type = type;
  out.append(reinterpret_cast<const char*>(&header), sizeof header);
  out.append(owner);
  out.push_back('\0');
  out.resize(align_up(out.size(), 4), '\0');
  out.append(descriptor);
  out.resize(align_up(out.size(), 4), '\0');
}

std::string build_notes(const ImageNotes& notes, const ElfSourceRecord& origin, const std::string& out_path) {
  std::string blob;
  if (!notes.vmcoreinfo.empty()) append_note(blob, "VMCOREINFO", 0, notes.vmcoreinfo, out_path);
  for (const CpuState& cpu : notes.cpus)
    if (cpu.cr0 || cpu.cr3 || cpu.cr4)
      append_note(blob, qemu_note::kOwner, qemu_note::kType, qemu_note::encode_cpu_state(cpu), out_path);
  // Every warning, as the source's reader gave it: the reader of this file
  // bounds what it repeats and counts the rest.
  if (!origin.warnings.empty()) {
    append_note(blob, memscope_note::kOwner, memscope_note::kSourceName, origin.name, out_path);
    for (const std::string& warning : origin.warnings)
      append_note(blob, memscope_note::kOwner, memscope_note::kSourceWarning, warning, out_path);
  }
  return blob;
}

}  // namespace

void write_elf_core(AddressSpace& source, const std::vector<Range>& ranges, const ImageNotes& notes,
                    const std::string& out_path, const ProgressFn& progress, const ElfSourceRecord& origin) {
  std::vector<Range> sorted = normalize_ranges(ranges, out_path);
  refuse_to_overwrite_evidence(source, out_path);
  const std::string note_blob = build_notes(notes, origin, out_path);

  const uint64_t header_count = sorted.size() + (note_blob.empty() ? 0 : 1);
  if (header_count > std::numeric_limits<uint32_t>::max())
    throw Error(out_path + ": " + std::to_string(sorted.size()) + " ranges are too many for an ELF core");
  // e_phnum is 16 bits: beyond PN_XNUM - 1 headers the count moves to
  // section header 0's sh_info (System V gABI "extended program header numbering").
  const bool extended = header_count >= PN_XNUM;

  uint64_t offset = sizeof(Elf64_Ehdr);
  const uint64_t section_offset = extended ? offset : 0;
  if (extended) offset += sizeof(Elf64_Shdr);
  const uint64_t program_offset = offset;
  offset += header_count * sizeof(Elf64_Phdr);
  const uint64_t note_offset = offset;
  offset += note_blob.size();
  const uint64_t data_offset = align_up(offset, kElfDataAlignment);

  Elf64_Ehdr ehdr{};
  std::memcpy(ehdr.e_ident, ELFMAG, SELFMAG);
  ehdr.e_ident[EI_CLASS] = ELFCLASS64;
  ehdr.e_ident[EI_DATA] = ELFDATA2LSB;
  ehdr.e_ident[EI_VERSION] = EV_CURRENT;
  ehdr.e_ident[EI_OSABI] = ELFOSABI_NONE;
  ehdr.e_type = ET_CORE;
  ehdr.e_machine = EM_X86_64;
  ehdr.e_version = EV_CURRENT;
  ehdr.e_phoff = header_count ? program_offset : 0;
  ehdr.e_shoff = section_offset;
  ehdr.e_ehsize = sizeof(Elf64_Ehdr);
  ehdr.e_phentsize = sizeof(Elf64_Phdr);
  ehdr.e_phnum = static_cast<Elf64_Half>(extended ? PN_XNUM : header_count);
  ehdr.e_shentsize = extended ? sizeof(Elf64_Shdr) : 0;
  ehdr.e_shnum = extended ? 1 : 0;
  ehdr.e_shstrndx = SHN_UNDEF;

  std::vector<Elf64_Phdr> headers;
  headers.reserve(header_count);
  if (!note_blob.empty()) {
    Elf64_Phdr note{};
    note.p_type = PT_NOTE;
    note.p_offset = note_offset;
    note.p_filesz = note.p_memsz = note_blob.size();
    note.p_align = 4;
    headers.push_back(note);
  }
  uint64_t data_at = data_offset;
  for (const Range& range : sorted) {
    Elf64_Phdr load{};
    load.p_type = PT_LOAD;
    load.p_flags = PF_R | PF_W | PF_X;
    load.p_offset = data_at;
    load.p_vaddr = 0;
    load.p_paddr = range.start;
    load.p_filesz = load.p_memsz = range.size;
    headers.push_back(load);
    data_at += range.size;
  }

  OutputFile out(out_path);
  out.write(&ehdr, sizeof ehdr);
  if (extended) {
    Elf64_Shdr first{};
    first.sh_info = static_cast<Elf64_Word>(header_count);
    out.write(&first, sizeof first);
  }
  out.write(headers.data(), headers.size() * sizeof(Elf64_Phdr));
  out.write(note_blob.data(), note_blob.size());
  std::string padding(data_offset - offset, '\0');
  out.write(padding.data(), padding.size());

  Copier copier(source, out, progress, total_bytes(sorted));
  for (const Range& range : sorted) copier.copy(range);
  out.finish();
}


namespace {

WriteOutcome write_elf(const WriteRequest& request) {
  ProgressFn report;
  if (request.progress) report = [&](uint64_t done, uint64_t) { request.progress->set_done(done); };
  const ElfSourceRecord origin{std::filesystem::path(request.source.path()).filename().string(),
                               request.source.warnings()};
  write_elf_core(request.source, request.ranges, request.source.notes(), request.out_path, report, origin);
  return {};
}

}  // namespace

MEMSCOPE_REGISTER(image_writer_registry(), ImageWriter{
  .name = "elf",
  .format = "elf",
  .description = "ELF core: one PT_LOAD per range; VMCOREINFO, CPU notes and the source's warnings kept",
  .write = write_elf,
});

}  // namespace memscope
