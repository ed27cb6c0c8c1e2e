// The x86_64 interrupt descriptor table the kernel loads on every CPU:
// `idt_table`, 256 16-byte gate descriptors (IDT_ENTRIES: fixed by the
// architecture). A gate holds its handler's address split in three
// (offset_low: bits 0-15, offset_middle: 16-31, offset_high: 32-63) around
// the code segment and the attribute bits (IST index, gate type, DPL,
// present). Field positions come from the profile's struct gate_struct
// (gate_struct64 before 4.15) where it has one, else from the
// architecture's layout (Intel SDM vol. 3, 6.14.1), which they must match.
#pragma once

#include <cstdint>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

inline constexpr unsigned kIdtEntries = 256;

struct IdtGate {
  unsigned vector = 0;
  uint64_t descriptor = 0;  // address of the gate in the table
  uint64_t handler = 0;
  uint16_t segment = 0;
  unsigned type = 0;  // 0xe: interrupt gate, 0xf: trap gate
  unsigned dpl = 0;
  unsigned ist = 0;
  bool present = false;
};

// Decodes one 16-byte gate descriptor laid out as `layout` says.
struct GateLayout {
  uint64_t size = 16;
  uint64_t offset_low = 0, segment = 2, bits = 4, offset_middle = 6, offset_high = 8;
};
GateLayout gate_layout(const Profile& profile);
IdtGate decode_gate(const uint8_t* bytes, const GateLayout& layout);

// Every gate of idt_table; gates that cannot be read are left out, with one
// warning naming the address. Throws ProfileError without idt_table.
std::vector<IdtGate> read_idt(const KernelView& kernel, Warnings& warnings);

}  // namespace memscope::linux_kernel
