// QEMU's per-vCPU note in ELF cores (`dump-guest-memory`, virsh dump):
// owner "QEMU", type 0, descriptor QEMUCPUState as laid out by QEMU's
// target/i386/arch_dump.c:
//
//   u32 version, u32 size,
//   u64 rax rbx rcx rdx rsi rdi rsp rbp r8..r15 rip rflags,   (18 x 8)
//   10 segments {u32 selector, limit, flags, pad; u64 base}    (10 x 24)
//   u64 cr[5], u64 kernel_gs_base
//
// We only need CR0/CR3/CR4 (CR3 is the page-table root that opens the
// kernel's virtual space), so this file knows their offsets and nothing else.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/layers/image_notes.h"

namespace memscope::qemu_note {

inline constexpr std::string_view kOwner = "QEMU";
inline constexpr uint32_t kType = 0;
inline constexpr uint32_t kVersion = 1;

// Offsets inside QEMUCPUState.
inline constexpr size_t kControlRegistersOffset = 8 + 18 * 8 + 10 * 24;  // cr[0]
inline constexpr size_t kControlRegistersEnd = kControlRegistersOffset + 5 * 8;
inline constexpr size_t kStateSize = kControlRegistersEnd + 8;  // + kernel_gs_base

// Reads the control registers of one QEMU note descriptor. The state's own
// `size` field bounds what is trusted (never more than `descriptor` holds);
// a state too short to reach cr[4] gives a CpuState without registers.
CpuState decode_cpu_state(std::string_view descriptor, unsigned index);

// A QEMUCPUState descriptor carrying `cpu`'s CR0/CR3/CR4 (absent ones as
// zero) and zeros elsewhere: enough for our reader and for tools that only
// look at the control registers.
std::string encode_cpu_state(const CpuState& cpu);

}  // namespace memscope::qemu_note
