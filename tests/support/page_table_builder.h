// Builds x86_64 page tables into a BufferSpace, so paging tests can map
// chosen virtual addresses to chosen physical ones with 4K, 2M and 1G pages
// and 4- or 5-level tables, then check what the paging layer reads.
#pragma once

#include <cstdint>

#include "support/buffer_space.h"

namespace memscope::test {

class PageTableBuilder {
 public:
  // Entry bits (Intel SDM vol. 3, 4.5).
  static constexpr uint64_t kPresent = 1ull << 0;
  static constexpr uint64_t kWritable = 1ull << 1;
  static constexpr uint64_t kUser = 1ull << 2;
  static constexpr uint64_t kPageSize = 1ull << 7;  // PS, set by map_2m / map_1g
  static constexpr uint64_t kPat2M1G = 1ull << 12;  // PAT bit of a 2M/1G leaf
  static constexpr uint64_t kNoExecute = 1ull << 63;
  static constexpr uint64_t kDefaultFlags = kPresent | kWritable;

  // Tables are allocated in consecutive 4 KiB pages from
  // `first_free_table_page` (page-aligned physical address); the top-level
  // table is the first.
  PageTableBuilder(BufferSpace& space, int levels, uint64_t first_free_table_page);

  // Leaf entries get `flags` (plus PS for large pages); intermediate entries
  // get present | writable | user, like Linux. Throws std::logic_error for a
  // misaligned address or a path blocked by an existing large page.
  void map_4k(uint64_t vaddr, uint64_t paddr, uint64_t flags = kDefaultFlags);
  void map_2m(uint64_t vaddr, uint64_t paddr, uint64_t flags = kDefaultFlags);
  void map_1g(uint64_t vaddr, uint64_t paddr, uint64_t flags = kDefaultFlags);

  // Physical address of the entry that maps `vaddr` at `level` (1 = page
  // table ... levels = top); throws std::logic_error if the table for that
  // level does not exist. For tests that edit or corrupt entries.
  uint64_t entry_address(uint64_t vaddr, int level) const;
  // Writes a raw value into the top-level table (e.g. a self-reference).
  void set_top_entry(unsigned index, uint64_t value);

  // The top-level table's physical address (what CR3 holds, flags aside).
  uint64_t dtb() const { return top_; }
  int levels() const { return levels_; }
  // Where the next table would go: tables occupy [first, next_free_page()).
  uint64_t next_free_page() const { return next_free_; }

 private:
  void map(uint64_t vaddr, uint64_t paddr, uint64_t flags, int leaf_level);
  uint64_t read_entry(uint64_t address) const;
  uint64_t allocate_table();

  BufferSpace& space_;
  int levels_;
  uint64_t next_free_;
  uint64_t top_;
};

}  // namespace memscope::test
