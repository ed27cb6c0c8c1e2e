// ELF core reader. libelf parses the ELF and program headers (including the
// PN_XNUM extension QEMU uses for very many segments); the notes are walked
// here, straight from the mmap, because gelf_getnote refuses a last note
// whose padding the producer left out and cannot say what was wrong with a
// note, while an analyst needs the offending note's offset and lengths.
#include "formats/elf/elf_core.h"

#include <gelf.h>
#include <libelf.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <mutex>
#include <optional>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/source_warnings.h"
#include "formats/elf/memscope_note.h"
#include "formats/elf/qemu_cpu_note.h"
#include "core/layers/format_registry.h"

namespace memscope {
namespace {

// x86_64 kernels support at most 8192 CPUs (CONFIG_NR_CPUS); more CPU notes
// than that would only make us allocate for an attacker.
constexpr size_t kMaxCpus = 8192;
// The notes of all PT_NOTE segments together: a real core has kilobytes to a
// few megabytes (8192 CPUs of QEMU notes are 4 MiB).
constexpr uint64_t kMaxNoteBytes = uint64_t{256} << 20;
// Distinct note names/types listed by describe(); the rest are "other".
constexpr size_t kMaxNoteKinds = 32;

struct ElfCloser {
  void operator()(Elf* elf) const { elf_end(elf); }
};
using ElfHandle = std::unique_ptr<Elf, ElfCloser>;

void init_libelf() {
  static std::once_flag once;
  static bool ok = false;
  std::call_once(once, [] { ok = elf_version(EV_CURRENT) != EV_NONE; });
  if (!ok) throw Error(std::string("libelf: cannot initialise: ") + elf_errmsg(-1));
}

// ": <libelf's reason>", or nothing when libelf recorded none (its message
// would then be "no error", which is no reason).
std::string libelf_error() {
  int error = elf_errno();
  const char* message = error != 0 ? elf_errmsg(error) : nullptr;
  return message ? std::string(": ") + message : std::string();
}

uint32_t load_u32(std::string_view bytes, size_t offset) {
  uint32_t value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

// Note owner names are untrusted bytes: keep them short and printable.
std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 32)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

std::string note_kind(const std::string& owner, uint32_t type) {
  if (owner == "CORE" && type == NT_PRSTATUS) return "CORE/NT_PRSTATUS";
  if (owner == "CORE" && type == NT_PRPSINFO) return "CORE/NT_PRPSINFO";
  if (owner == "CORE" && type == NT_FPREGSET) return "CORE/NT_FPREGSET";
  if (owner == qemu_note::kOwner && type == qemu_note::kType) return "QEMU";
  if (owner == "VMCOREINFO" && type == 0) return "VMCOREINFO";
  if (owner == memscope_note::kOwner && type == memscope_note::kSourceName) return "MEMSCOPE/source name";
  if (owner == memscope_note::kOwner && type == memscope_note::kSourceWarning) return "MEMSCOPE/source warning";
  return printable(owner) + "/type " + std::to_string(type);
}

struct LoadHeader {
  size_t index = 0;
  uint64_t header_offset = 0;
  GElf_Phdr phdr{};
};

// Collects what the PT_NOTE segments say.
class NoteCollector {
 public:
  NoteCollector(const MappedFile& file, ElfCoreLayer::Summary& summary) : file_(file), summary_(summary) {}

  // `cut_short`: the file ends inside the segment (p_filesz was cut to
  // what it holds): a note running past the cut ends the walk with a
  // warning instead of an error.
  void parse_segment(size_t index, const GElf_Phdr& phdr, bool cut_short = false) {
    // Many PT_NOTE headers may point at the same large region: the walk's
    // total is bounded, so that such a file costs linear time.
    if (phdr.p_filesz > kMaxNoteBytes - walked_) {
      warnings_.push_back(file_.path() + ": PT_NOTE #" + std::to_string(index) + " (" + std::to_string(phdr.p_filesz) +
                          " bytes at file offset " + hex(phdr.p_offset) + ") is not read: the notes read already " +
                          "and it would pass " + std::to_string(kMaxNoteBytes >> 20) + " MiB of notes");
      return;
    }
    walked_ += phdr.p_filesz;
    std::string_view segment = file_.bytes(phdr.p_offset, phdr.p_filesz);
    const uint64_t alignment = phdr.p_align == 8 ? 8 : 4;  // Linux cores use 4 whatever p_align says
    uint64_t pos = 0;
    // Each turn consumes at least a 12-byte header: bounded by the segment size.
    while (pos < segment.size()) {
      const uint64_t note_offset = phdr.p_offset + pos;
      const uint64_t left = segment.size() - pos;
      if (left < sizeof(Elf64_Nhdr)) {
        if (all_zero(segment.substr(pos)) || cut_short) break;  // padding, or the cut
        throw FormatError(where(index, note_offset) + ": " + std::to_string(left) +
                          " stray bytes at the end of the segment, too short for a note header");
      }
      const uint32_t name_size = load_u32(segment, pos);
      const uint32_t desc_size = load_u32(segment, pos + 4);
      const uint32_t type = load_u32(segment, pos + 8);
      const uint64_t name_at = pos + sizeof(Elf64_Nhdr);
      // 64-bit arithmetic on 32-bit sizes cannot overflow.
      const uint64_t desc_at = desc_size ? align_up(name_at + name_size, alignment) : name_at + name_size;
      const uint64_t desc_end = desc_at + desc_size;
      if (desc_end > segment.size() && cut_short) {
        warnings_.push_back(where(index, note_offset) + ": note cut short by the end of the file; the notes from "
                            "here on are lost");
        break;
      }
      if (desc_end > segment.size())
        throw FormatError(where(index, note_offset) + ": note claims a " + std::to_string(name_size) +
                          "-byte name and a " + std::to_string(desc_size) +
                          "-byte descriptor, running past the end of the segment at file offset " +
                          hex(phdr.p_offset + phdr.p_filesz));
      pos = align_up(desc_end, alignment);
      if (name_size == 0 && desc_size == 0 && type == 0) continue;  // zero padding between notes

      std::string_view name = segment.substr(name_at, name_size);
      name = name.substr(0, name.find('\0'));
      std::string_view descriptor = segment.substr(desc_at, desc_size);
      handle(std::string(name), type, descriptor, index, note_offset);
    }
  }

  std::vector<std::string>& warnings() { return warnings_; }

  // The warnings a converted core's source gave (MEMSCOPE notes), as this
  // file's reader repeats them (bounded: core/layers/source_warnings.h).
  std::vector<std::string> source_warnings() const {
    return repeat_source_warnings(file_.path(), source_name_.value_or(""), source_warnings_,
                                  source_warnings_not_kept_);
  }

  ImageNotes finish() {
    // Without QEMU's register notes the kernel's per-CPU NT_PRSTATUS notes
    // still tell how many CPUs there were.
    if (notes_.cpus.empty())
      for (uint64_t i = 0; i < prstatus_count_ && i < kMaxCpus; ++i)
        notes_.cpus.push_back(CpuState{static_cast<unsigned>(i), {}, {}, {}});
    return std::move(notes_);
  }

 private:
  static bool all_zero(std::string_view bytes) {
    return std::all_of(bytes.begin(), bytes.end(), [](char c) { return c == 0; });
  }

  std::string where(size_t index, uint64_t note_offset) const {
    return file_.path() + ": ELF note at file offset " + hex(note_offset) + " (PT_NOTE #" + std::to_string(index) +
           ")";
  }

  void handle(const std::string& owner, uint32_t type, std::string_view descriptor, size_t index,
              uint64_t note_offset) {
    std::string kind = note_kind(owner, type);
    if (summary_.note_counts.size() >= kMaxNoteKinds && !summary_.note_counts.count(kind)) kind = "other";
    ++summary_.note_counts[kind];

    if (owner == "VMCOREINFO" && type == 0) {
      if (notes_.vmcoreinfo.empty()) {
        std::string_view text = descriptor.substr(0, descriptor.find('\0'));
        notes_.set_vmcoreinfo(std::string(text));
      }
    } else if (owner == qemu_note::kOwner && type == qemu_note::kType) {
      if (notes_.cpus.size() >= kMaxCpus)
        throw FormatError(where(index, note_offset) + ": more than " + std::to_string(kMaxCpus) +
                          " QEMU CPU notes; not a plausible image");
      notes_.cpus.push_back(qemu_note::decode_cpu_state(descriptor, static_cast<unsigned>(notes_.cpus.size())));
    } else if (owner == "CORE" && type == NT_PRSTATUS) {
      ++prstatus_count_;
    } else if (owner == memscope_note::kOwner && type == memscope_note::kSourceName) {
      // The first counts, as for VMCOREINFO. One byte past the limit is
      // kept: enough for printable_text to say it cut.
      if (!source_name_)
        source_name_ = std::string(descriptor.substr(0, SourceWarningLimits::kMaxNameBytes + 1));
    } else if (owner == memscope_note::kOwner && type == memscope_note::kSourceWarning) {
      if (source_warnings_.size() < SourceWarningLimits::kMaxWarnings)
        source_warnings_.emplace_back(descriptor.substr(0, SourceWarningLimits::kMaxTextBytes + 1));
      else
        ++source_warnings_not_kept_;
    }
  }

  const MappedFile& file_;
  ElfCoreLayer::Summary& summary_;
  ImageNotes notes_;
  uint64_t prstatus_count_ = 0;
  std::vector<std::string> warnings_;
  uint64_t walked_ = 0;  // note bytes walked, all segments
  std::optional<std::string> source_name_;
  std::vector<std::string> source_warnings_;
  size_t source_warnings_not_kept_ = 0;
};

// Checks the ELF header: only whole-machine x86_64 cores are memory images.
GElf_Ehdr check_header(Elf* elf, const std::string& path) {
  if (elf_kind(elf) != ELF_K_ELF) throw FormatError(path + ": not an ELF file" + libelf_error());
  size_t ident_size = 0;
  const char* ident = elf_getident(elf, &ident_size);
  if (!ident || ident_size < EI_NIDENT) throw FormatError(path + ": ELF identification unreadable");
  if (ident[EI_CLASS] != ELFCLASS64)
    throw FormatError(path + ": ELF class " + std::to_string(static_cast<int>(ident[EI_CLASS])) +
                      " at offset " + hex(EI_CLASS) + ": only 64-bit (ELFCLASS64) x86_64 cores are supported");
  if (ident[EI_DATA] != ELFDATA2LSB)
    throw FormatError(path + ": ELF data encoding " + std::to_string(static_cast<int>(ident[EI_DATA])) +
                      " at offset " + hex(EI_DATA) + ": only little-endian x86_64 cores are supported");
  GElf_Ehdr ehdr;
  if (!gelf_getehdr(elf, &ehdr)) throw FormatError(path + ": ELF header unreadable" + libelf_error());
  if (ehdr.e_type != ET_CORE)
    throw FormatError(path + ": ELF type " + std::to_string(ehdr.e_type) +
                      " at offset 0x10 is not ET_CORE (4): an executable or library, not a memory image");
  if (ehdr.e_machine != EM_X86_64)
    throw FormatError(path + ": ELF machine " + std::to_string(ehdr.e_machine) +
                      " at offset 0x12 is not x86_64 (62); other architectures are not supported");
  return ehdr;
}

// Keeps one segment per stretch of physical memory. A kdump /proc/vmcore
// maps the kernel image twice (its text mapping and the direct map), both
// at the same physical addresses: a segment lying wholly inside another
// one holds the same memory and is dropped. Partial overlaps stay, so that
// SegmentedFileLayer reports them.
std::vector<FileSegment> drop_contained(std::vector<FileSegment> segments, uint64_t& dropped) {
  std::sort(segments.begin(), segments.end(), [](const FileSegment& a, const FileSegment& b) {
    return a.physical != b.physical ? a.physical < b.physical : a.size > b.size;
  });
  std::vector<FileSegment> kept;
  for (const FileSegment& s : segments) {
    if (!kept.empty()) {
      const FileSegment& last = kept.back();
      if (s.physical >= last.physical && s.physical - last.physical <= last.size &&
          s.size <= last.size - (s.physical - last.physical)) {
        ++dropped;
        continue;
      }
    }
    kept.push_back(s);
  }
  return kept;
}

}  // namespace

ElfCoreLayer::ElfCoreLayer(std::shared_ptr<const MappedFile> file, std::vector<FileSegment> segments,
                           ImageNotes notes, Summary summary, std::vector<std::string> source_warnings,
                           std::vector<std::string> warnings)
    : SegmentedFileLayer(std::move(file), "elf", std::move(segments)),
      notes_(std::move(notes)),
      summary_(std::move(summary)) {
  // The base class recorded its own (a segment cut short, overlaps) already.
  add_leading_warnings(std::move(source_warnings));
  for (std::string& w : warnings) add_warning(std::move(w));
}

std::unique_ptr<ElfCoreLayer> ElfCoreLayer::open(std::shared_ptr<const MappedFile> file) {
  init_libelf();
  const std::string& path = file->path();
  // elf_memory reads in ELF_C_READ_MMAP mode, which never writes to the
  // image; the cast only satisfies its C signature. The mapping is PROT_READ
  // anyway, so a write would fault rather than touch the evidence.
  ElfHandle elf(elf_memory(const_cast<char*>(reinterpret_cast<const char*>(file->data())), file->size()));
  if (!elf) throw FormatError(path + ": not a readable ELF file" + libelf_error());
  GElf_Ehdr ehdr = check_header(elf.get(), path);

  size_t header_count = 0;
  if (elf_getphdrnum(elf.get(), &header_count) != 0)
    throw FormatError(path + ": ELF program header count unreadable" + libelf_error());
  if (header_count == 0) throw FormatError(path + ": ELF core has no program headers, hence no memory");
  if (ehdr.e_phentsize != sizeof(Elf64_Phdr))
    throw FormatError(path + ": ELF program header size " + std::to_string(ehdr.e_phentsize) +
                      " at offset 0x36 (expected " + std::to_string(sizeof(Elf64_Phdr)) + ")");
  // The count the header declares (e_phnum, or section 0's sh_info for
  // PN_XNUM): libelf quietly gives no more than the file holds, which
  // would hide a table cut short. The counts are 32-bit at most: the
  // products fit. A file cut inside the table keeps the headers before
  // the cut.
  std::vector<std::string> warnings;
  uint64_t declared = ehdr.e_phnum;
  if (declared == PN_XNUM && ehdr.e_shoff && file->contains(ehdr.e_shoff, sizeof(Elf64_Shdr))) {
    Elf64_Shdr first;
    std::memcpy(&first, file->data() + ehdr.e_shoff, sizeof first);
    declared = first.sh_info;
  }
  size_t readable = header_count;
  if (!file->contains(ehdr.e_phoff, header_count * sizeof(Elf64_Phdr)))
    readable = ehdr.e_phoff < file->size() ? static_cast<size_t>((file->size() - ehdr.e_phoff) / sizeof(Elf64_Phdr)) : 0;
  declared = std::max<uint64_t>(declared, header_count);
  if (readable == 0)
    throw FormatError(path + ": " + std::to_string(declared) + " ELF program headers at file offset " +
                      hex(ehdr.e_phoff) + " run past the end of the file at " + hex(file->size()) +
                      " (truncated image?): not one is whole");
  if (readable < declared)
    warnings.push_back(path + ": truncated: the file ends at " + hex(file->size()) +
                       " inside the program header table: headers #" + std::to_string(readable) + "-#" +
                       std::to_string(declared - 1) + " (from file offset " +
                       hex(ehdr.e_phoff + readable * sizeof(Elf64_Phdr)) +
                       ") are lost, and the memory they describe with them");

  Summary summary;
  NoteCollector collector(*file, summary);
  std::vector<LoadHeader> loads;
  // PT_NOTE headers by the bytes they describe: a second header for the
  // same bytes would count every note (and CPU) twice.
  std::map<std::pair<uint64_t, uint64_t>, size_t> note_headers;
  for (size_t i = 0; i < readable; ++i) {
    const uint64_t header_offset = ehdr.e_phoff + i * sizeof(Elf64_Phdr);
    // Read from the mapping (checked above to hold it): libelf refuses
    // every header of a table the file cuts short.
    // (GElf_Phdr is Elf64_Phdr; the header check made sure the file is
    // ELFCLASS64 little-endian, as this machine.)
    GElf_Phdr phdr;
    static_assert(sizeof(GElf_Phdr) == sizeof(Elf64_Phdr));
    std::memcpy(&phdr, file->data() + header_offset, sizeof phdr);
    if (phdr.p_type == PT_LOAD) {
      ++summary.load_segments;
      if (phdr.p_memsz > phdr.p_filesz) ++summary.partial_segments;
      // Bytes past the end of the file (a truncated image) become missing
      // ranges of the layer, with its warning (SegmentedFileLayer).
      loads.push_back(LoadHeader{i, header_offset, phdr});
    } else if (phdr.p_type == PT_NOTE) {
      ++summary.note_segments;
      auto [first, fresh] = note_headers.try_emplace({phdr.p_offset, phdr.p_filesz}, i);
      if (!fresh) {
        warnings.push_back(path + ": PT_NOTE #" + std::to_string(i) + " (program header at file offset " +
                           hex(header_offset) + ") describes the same bytes as PT_NOTE #" +
                           std::to_string(first->second) + "; its notes are read once");
        continue;
      }
      if (!file->contains(phdr.p_offset, phdr.p_filesz)) {
        // The notes before the cut are still read; a note cut in two ends
        // the segment with a warning instead of an error.
        const uint64_t kept = phdr.p_offset < file->size() ? file->size() - phdr.p_offset : 0;
        warnings.push_back(path + ": truncated: PT_NOTE #" + std::to_string(i) + " (program header at file offset " +
                           hex(header_offset) + ") needs file bytes " + hex(phdr.p_offset) + ".." +
                           hex(phdr.p_offset + phdr.p_filesz) + " but the file ends at " + hex(file->size()) +
                           ": only the notes in its first " + std::to_string(kept) + " bytes are read");
        phdr.p_filesz = kept;
        collector.parse_segment(i, phdr, /*cut_short=*/true);
      } else {
        collector.parse_segment(i, phdr);
      }
    }
  }

  // Physical addresses live in p_paddr. A producer that left every p_paddr
  // at 0 while filling p_vaddr gave us virtual addresses only: mapping them
  // by guess would silently give wrong bytes, so refuse clearly.
  bool any_paddr = std::any_of(loads.begin(), loads.end(), [](const LoadHeader& l) { return l.phdr.p_paddr != 0; });
  bool any_vaddr = std::any_of(loads.begin(), loads.end(), [](const LoadHeader& l) { return l.phdr.p_vaddr != 0; });
  if (!loads.empty() && !any_paddr && any_vaddr)
    throw FormatError(path + ": every PT_LOAD has p_paddr 0 but p_vaddr set (first program header at file offset " +
                      hex(loads.front().header_offset) +
                      "): the producer recorded no physical addresses, so this core cannot be read as "
                      "physical memory");

  std::vector<FileSegment> segments;
  for (const LoadHeader& load : loads) {
    uint64_t in_file = std::min(load.phdr.p_filesz, load.phdr.p_memsz);
    if (in_file) segments.push_back(FileSegment{load.phdr.p_paddr, in_file, load.phdr.p_offset});
  }
  segments = drop_contained(std::move(segments), summary.duplicate_segments);
  ImageNotes notes = collector.finish();
  for (std::string& w : collector.warnings()) warnings.push_back(std::move(w));
  return std::unique_ptr<ElfCoreLayer>(new ElfCoreLayer(std::move(file), std::move(segments), std::move(notes),
                                                        std::move(summary), collector.source_warnings(),
                                                        std::move(warnings)));
}

LayerDescription ElfCoreLayer::describe() const {
  LayerDescription lines;
  uint64_t mapped = 0;
  for (const FileSegment& s : segments()) mapped += s.size;
  std::string loads = std::to_string(summary_.load_segments) + " (" + hex(mapped) + " bytes mapped)";
  if (summary_.duplicate_segments)
    loads += "; " + std::to_string(summary_.duplicate_segments) + " inside another segment, not used";
  if (summary_.partial_segments)
    loads += "; " + std::to_string(summary_.partial_segments) + " with p_memsz > p_filesz (tail not in the file)";
  lines.emplace_back("PT_LOAD segments", loads);

  std::string kinds;
  for (const auto& [kind, count] : summary_.note_counts)
    kinds += (kinds.empty() ? "" : ", ") + kind + " x" + std::to_string(count);
  lines.emplace_back("notes", kinds.empty() ? "none" : kinds);

  auto release = notes_.vmcoreinfo_keys.find("OSRELEASE");
  if (release != notes_.vmcoreinfo_keys.end()) lines.emplace_back("VMCOREINFO OSRELEASE", release->second);
  // CPU registers are part of notes(), which `memscope info` shows for every format.
  return lines;
}

namespace {

MEMSCOPE_REGISTER(format_registry(), FormatHandler{
    .name = "elf",
    .description = "ELF core (QEMU dump-guest-memory, VirtualBox, kdump /proc/vmcore): PT_LOAD by p_paddr, notes",
    .priority = 100,
    .probe =
        [](const MappedFile& file) {
          std::string_view head = file.bytes(0, SELFMAG);
          return !head.empty() && std::memcmp(head.data(), ELFMAG, SELFMAG) == 0;
        },
    .open = [](std::shared_ptr<const MappedFile> file) -> std::unique_ptr<PhysicalLayer> {
      return ElfCoreLayer::open(std::move(file));
    }});

}  // namespace
}  // namespace memscope
