#include "support/page_table_builder.h"

#include <stdexcept>

#include "core/util/hex.h"

namespace memscope::test {
namespace {

constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;

unsigned shift_of(int level) { return 12 + 9 * static_cast<unsigned>(level - 1); }

}  // namespace

PageTableBuilder::PageTableBuilder(BufferSpace& space, int levels, uint64_t first_free_table_page)
    : space_(space), levels_(levels), next_free_(first_free_table_page) {
  if (levels != 4 && levels != 5) throw std::logic_error("PageTableBuilder: levels must be 4 or 5");
  if (first_free_table_page % BufferSpace::kPage) throw std::logic_error("PageTableBuilder: unaligned table page");
  top_ = allocate_table();
}

uint64_t PageTableBuilder::allocate_table() {
  uint64_t table = next_free_;
  space_.map(table, BufferSpace::kPage);  // zero-filled: no entry present
  next_free_ += BufferSpace::kPage;
  return table;
}

uint64_t PageTableBuilder::read_entry(uint64_t address) const {
  uint64_t value = 0;
  space_.read_exact(address, &value, sizeof value);
  return value;
}

void PageTableBuilder::map(uint64_t vaddr, uint64_t paddr, uint64_t flags, int leaf_level) {
  uint64_t size = 1ull << shift_of(leaf_level);
  if (vaddr % size || paddr % size)
    throw std::logic_error("PageTableBuilder: " + hex(vaddr) + " -> " + hex(paddr) + " not aligned to " + hex(size));
  uint64_t table = top_;
  for (int level = levels_; level > leaf_level; --level) {
    uint64_t slot = table + ((vaddr >> shift_of(level)) & 511) * 8;
    uint64_t entry = read_entry(slot);
    if (!(entry & kPresent)) {
      entry = allocate_table() | kPresent | kWritable | kUser;
      space_.put_u64(slot, entry);
    } else if (entry & kPageSize) {
      throw std::logic_error("PageTableBuilder: " + hex(vaddr) + " is inside an existing large page");
    }
    table = entry & kAddressMask;
  }
  uint64_t leaf = paddr | flags | (leaf_level > 1 ? kPageSize : 0);
  space_.put_u64(table + ((vaddr >> shift_of(leaf_level)) & 511) * 8, leaf);
}

void PageTableBuilder::map_4k(uint64_t vaddr, uint64_t paddr, uint64_t flags) { map(vaddr, paddr, flags, 1); }
void PageTableBuilder::map_2m(uint64_t vaddr, uint64_t paddr, uint64_t flags) { map(vaddr, paddr, flags, 2); }
void PageTableBuilder::map_1g(uint64_t vaddr, uint64_t paddr, uint64_t flags) { map(vaddr, paddr, flags, 3); }

uint64_t PageTableBuilder::entry_address(uint64_t vaddr, int level) const {
  uint64_t table = top_;
  for (int at = levels_; at > level; --at) {
    uint64_t entry = read_entry(table + ((vaddr >> shift_of(at)) & 511) * 8);
    if (!(entry & kPresent) || (entry & kPageSize))
      throw std::logic_error("PageTableBuilder: no table at level " + std::to_string(level) + " for " + hex(vaddr));
    table = entry & kAddressMask;
  }
  return table + ((vaddr >> shift_of(level)) & 511) * 8;
}

void PageTableBuilder::set_top_entry(unsigned index, uint64_t value) {
  space_.put_u64(top_ + (index & 511) * 8, value);
}

}  // namespace memscope::test
