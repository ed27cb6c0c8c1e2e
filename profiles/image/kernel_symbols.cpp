#include "profiles/image/kernel_symbols.h"

#include <cstring>
#include <vector>

namespace memscope {
namespace {

constexpr uint64_t kKernelHalf = 0xffff800000000000ull;
constexpr uint64_t kMaxNotesBytes = 64 * 1024;
constexpr uint32_t kNoteGnuBuildId = 3;  // NT_GNU_BUILD_ID

uint64_t align4(uint64_t v) { return (v + 3) & ~uint64_t{3}; }

}  // namespace

SystemMap system_map_from_kallsyms(const KallsymsTable& table, uint64_t virtual_shift, std::string source) {
  SystemMap map;
  map.source = std::move(source);
  map.symbols.reserve(table.symbols.size());
  for (const KallsymsSymbol& s : table.symbols) {
    const uint64_t link = s.address >= kKernelHalf ? s.address - virtual_shift : s.address;
    map.symbols.push_back(SystemMapSymbol{link, s.type, s.name});
  }
  map.lines = table.symbols.size();
  return map;
}

std::optional<std::string> kernel_build_id(AddressSpace& kernel, uint64_t start, uint64_t stop) {
  if (stop <= start || stop - start > kMaxNotesBytes) return std::nullopt;
  std::vector<uint8_t> notes(size_t(stop - start));
  if (!kernel.read(start, notes.data(), notes.size()).ok()) return std::nullopt;
  // Elf64_Nhdr: namesz, descsz, type (u32 each), then the name and the
  // descriptor, each padded to 4 bytes.
  for (uint64_t pos = 0; pos + 12 <= notes.size();) {
    uint32_t namesz, descsz, type;
    std::memcpy(&namesz, notes.data() + pos, 4);
    std::memcpy(&descsz, notes.data() + pos + 4, 4);
    std::memcpy(&type, notes.data() + pos + 8, 4);
    const uint64_t name_at = pos + 12, desc_at = name_at + align4(namesz), next = desc_at + align4(descsz);
    if (next > notes.size() || next <= pos) break;
    if (type == kNoteGnuBuildId && namesz == 4 && std::memcmp(notes.data() + name_at, "GNU", 4) == 0 && descsz &&
        descsz <= 64) {
      static const char digits[] = "0123456789abcdef";
      std::string id;
      for (uint32_t i = 0; i < descsz; ++i) {
        id += digits[notes[desc_at + i] >> 4];
        id += digits[notes[desc_at + i] & 15];
      }
      return id;
    }
    pos = next;
  }
  return std::nullopt;
}

}  // namespace memscope
