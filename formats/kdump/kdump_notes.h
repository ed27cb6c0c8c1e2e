// The ELF notes a kdump-compressed dump carries in its sub-header's note
// area (a copy of /proc/vmcore's PT_NOTE: one NT_PRSTATUS per CPU and the
// VMCOREINFO note; QEMU adds its per-vCPU "QEMU" register notes): what they
// tell kernel discovery, as ImageNotes.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/layers/image_notes.h"

namespace memscope::kdump {

struct NoteSummary {
  std::map<std::string, uint64_t> counts;  // "CORE/NT_PRSTATUS", "QEMU", "VMCOREINFO", ... -> count
  std::string problem;                     // why the walk stopped early, or ""
};

// Walks the notes in `area` (4-byte aligned, as Linux writes them) into
// `notes`: the first VMCOREINFO text, one CpuState per QEMU note (or, without
// them, one per NT_PRSTATUS). A note running past the area stops the walk
// with `problem` set (naming `where_base` + its offset); what came before is
// kept.
NoteSummary parse_notes(std::string_view area, const std::string& where_base, ImageNotes& notes);

}  // namespace memscope::kdump
