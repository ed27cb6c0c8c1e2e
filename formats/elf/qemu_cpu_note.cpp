#include "formats/elf/qemu_cpu_note.h"

#include <algorithm>
#include <bit>
#include <cstring>

namespace memscope::qemu_note {

static_assert(std::endian::native == std::endian::little, "QEMU x86 notes are little-endian");
static_assert(kStateSize == 0x1b8, "QEMUCPUState for x86_64 is 440 bytes");

namespace {

uint64_t load_u64(std::string_view bytes, size_t offset) {
  uint64_t value;
  std::memcpy(&value, bytes.data() + offset, sizeof value);
  return value;
}

void store_u64(std::string& bytes, size_t offset, uint64_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

void store_u32(std::string& bytes, size_t offset, uint32_t value) {
  std::memcpy(bytes.data() + offset, &value, sizeof value);
}

}  // namespace

CpuState decode_cpu_state(std::string_view descriptor, unsigned index) {
  CpuState cpu;
  cpu.index = index;
  if (descriptor.size() < 8) return cpu;
  uint32_t declared;
  std::memcpy(&declared, descriptor.data() + 4, sizeof declared);
  size_t usable = std::min<size_t>(descriptor.size(), declared);
  if (usable < kControlRegistersEnd) return cpu;
  cpu.cr0 = load_u64(descriptor, kControlRegistersOffset + 0 * 8);
  cpu.cr3 = load_u64(descriptor, kControlRegistersOffset + 3 * 8);
  cpu.cr4 = load_u64(descriptor, kControlRegistersOffset + 4 * 8);
  return cpu;
}

std::string encode_cpu_state(const CpuState& cpu) {
  std::string state(kStateSize, '\0');
  store_u32(state, 0, kVersion);
  store_u32(state, 4, static_cast<uint32_t>(kStateSize));
  store_u64(state, kControlRegistersOffset + 0 * 8, cpu.cr0.value_or(0));
  store_u64(state, kControlRegistersOffset + 3 * 8, cpu.cr3.value_or(0));
  store_u64(state, kControlRegistersOffset + 4 * 8, cpu.cr4.value_or(0));
  return state;
}

}  // namespace memscope::qemu_note
