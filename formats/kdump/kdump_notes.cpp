#include "formats/kdump/kdump_notes.h"

#include <algorithm>
#include <cstring>

#include "core/util/hex.h"
#include "formats/elf/qemu_cpu_note.h"

namespace memscope::kdump {
namespace {

constexpr uint32_t kNtPrstatus = 1;
// As the ELF reader: more CPU notes than CONFIG_NR_CPUS allows would only
// make us allocate for an attacker; distinct kinds beyond this are "other".
constexpr size_t kMaxCpus = 8192;
constexpr size_t kMaxNoteKinds = 32;
constexpr size_t kNoteHeader = 12;  // namesz, descsz, type

uint32_t load32(std::string_view bytes, size_t at) {
  uint32_t v;
  std::memcpy(&v, bytes.data() + at, sizeof v);
  return v;
}

uint64_t align4(uint64_t value) { return (value + 3) & ~uint64_t{3}; }

std::string printable(std::string_view name) {
  std::string out;
  for (char c : name.substr(0, 32)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  return out;
}

}  // namespace

NoteSummary parse_notes(std::string_view area, const std::string& where_base, ImageNotes& notes) {
  NoteSummary summary;
  uint64_t prstatus = 0;
  std::vector<CpuState> qemu_cpus;
  uint64_t pos = 0;
  // Each turn consumes a 12-byte header at least: bounded by the area's size.
  while (pos < area.size()) {
    const uint64_t left = area.size() - pos;
    if (left < kNoteHeader) {
      if (std::all_of(area.begin() + static_cast<ptrdiff_t>(pos), area.end(), [](char c) { return c == 0; })) break;
      summary.problem = where_base + " + " + hex(pos) + ": " + std::to_string(left) +
                        " stray bytes, too short for a note header";
      break;
    }
    const uint32_t name_size = load32(area, pos);
    const uint32_t desc_size = load32(area, pos + 4);
    const uint32_t type = load32(area, pos + 8);
    const uint64_t name_at = pos + kNoteHeader;
    const uint64_t desc_at = align4(name_at + name_size);
    const uint64_t desc_end = desc_at + desc_size;
    if (desc_end > area.size()) {
      summary.problem = where_base + " + " + hex(pos) + ": note claims a " + std::to_string(name_size) +
                        "-byte name and a " + std::to_string(desc_size) +
                        "-byte descriptor, running past the end of the note area";
      break;
    }
    pos = align4(desc_end);
    if (name_size == 0 && desc_size == 0 && type == 0) continue;  // padding
    std::string_view name = area.substr(name_at, name_size);
    name = name.substr(0, name.find('\0'));
    std::string_view descriptor = area.substr(desc_at, desc_size);

    std::string kind = name == "CORE" && type == kNtPrstatus ? "CORE/NT_PRSTATUS"
                       : name == qemu_note::kOwner && type == qemu_note::kType ? "QEMU"
                       : name == "VMCOREINFO" && type == 0 ? "VMCOREINFO"
                                                            : printable(name) + "/type " + std::to_string(type);
    if (summary.counts.size() >= kMaxNoteKinds && !summary.counts.count(kind)) kind = "other";
    ++summary.counts[kind];

    if (name == "VMCOREINFO" && type == 0) {
      if (notes.vmcoreinfo.empty()) notes.set_vmcoreinfo(std::string(descriptor.substr(0, descriptor.find('\0'))));
    } else if (name == qemu_note::kOwner && type == qemu_note::kType) {
      if (qemu_cpus.size() < kMaxCpus)
        qemu_cpus.push_back(qemu_note::decode_cpu_state(descriptor, static_cast<unsigned>(qemu_cpus.size())));
    } else if (name == "CORE" && type == kNtPrstatus) {
      ++prstatus;
    }
  }
  if (!qemu_cpus.empty()) {
    notes.cpus = std::move(qemu_cpus);
  } else {
    // Without QEMU's register notes, the kernel's NT_PRSTATUS notes still
    // tell how many CPUs there were.
    notes.cpus.clear();
    for (uint64_t i = 0; i < prstatus && i < kMaxCpus; ++i) notes.cpus.push_back(CpuState{static_cast<unsigned>(i), {}, {}, {}});
  }
  return summary;
}

}  // namespace memscope::kdump
