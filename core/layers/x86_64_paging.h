// The x86_64 paging layer: a virtual address space defined by 4- or 5-level
// page tables that live in the layer below (a physical image, or an overlay
// on it). It gives the kernel's view (DTB = swapper_pg_dir / CR3) and, with a
// process's pgd, that process's view.
//
// Reads go through a translation cache (a software TLB: 4-way, 8192 pages
// by default) holding, per virtual 4 KiB page, the physical page and the
// lower layer's peek pointer, so a warm read is a generation check, a tag
// compare and a copy, with no allocation. That hit path is inline (the class
// is final, so read() on an X86_64Paging& compiles to it); misses, page
// crossings and faults go out of line. A TLB miss costs one page-table
// entry load thanks to a second cache of the levels above, per 2 MiB. Both
// are dropped whenever the stack's generation() changes (an overlay write
// may have changed a page table), so they never serve stale translations.
//
// Not thread-safe (the cache is per instance): give each thread its own
// X86_64Paging over the same lower layer.
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/layers/address_space.h"

namespace memscope {

// What one virtual address maps to.
struct Translation {
  uint64_t physical = 0;   // physical address of the byte (not the page base)
  uint64_t page_size = 0;  // 4096, 2 MiB or 1 GiB
  // Effective permissions: writable and user only if every level allows it,
  // nx if any level forbids execution.
  bool writable = false;
  bool user = false;
  bool nx = false;
};

// 5 when CR4.LA57 (bit 12) is set, else 4.
int paging_levels_from_cr4(uint64_t cr4);

class X86_64Paging final : public AddressSpace {
 public:
  static constexpr uint64_t kPageSize = 4096;
  static constexpr size_t kDefaultCachePages = 8192;

  // `cr3` is the register value or a bare table address: PCID / flag bits
  // (11:0), the no-flush bit 63 and the other bits above 51 are masked off.
  // `levels` is 4 or 5 (throws Error otherwise). `name` defaults to
  // "x86_64-4level" / "x86_64-5level". `cache_pages` sizes the translation
  // cache (rounded up to a power of two, at least 4; 40 bytes a page plus
  // 32 KiB), allocated on the first read: spaces only enumerated cost nothing,
  // and many per-process spaces alive at once may ask for less.
  X86_64Paging(AddressSpace& below, uint64_t cr3, int levels, std::string name = "",
               size_t cache_pages = kDefaultCachePages);
  ~X86_64Paging() override;

  std::string name() const override { return name_; }
  AddressSpace* below() const override { return &below_; }
  uint64_t limit() const override { return 0; }  // the whole 64-bit space

  // Every mapped canonical virtual range, ascending, adjacent ones merged.
  // Walks the tables: each table page is visited at most once per call (so
  // self-referencing or aliased tables cannot make it loop or explode);
  // unreadable table pages are skipped.
  void ranges(const std::function<bool(const Range&)>& visit) const override;

  // The lower layer's pointer for the translated bytes, when [address,
  // address + n) lies in one 4 KiB page; nullptr otherwise.
  const uint8_t* peek(uint64_t address, size_t n) override;

  // Translates one virtual address. On failure returns nullopt and, if `why`
  // is given, fills it with the fault (virtual address, this layer, the
  // level that failed).
  std::optional<Translation> translate(uint64_t vaddr, Fault* why = nullptr);

  // One call per leaf mapping (4 KiB, 2 MiB or 1 GiB page) in ascending
  // virtual order, not merged: for scanners and per-process memory maps.
  // `flags.physical` equals `physical` (the page base). Same bounds as
  // ranges(). The visitor returns false to stop.
  using MappingVisitor =
      std::function<bool(uint64_t vaddr, uint64_t physical, uint64_t size, const Translation& flags)>;
  void for_each_mapping(const MappingVisitor& visit) const;

  // True when a read of [address, address + n) would be served from the
  // translation cache as it stands (one page, translation and lower-layer
  // pointer cached, generation unchanged). Changes nothing: for tests and
  // diagnostics.
  bool is_cached(uint64_t address, size_t n) const { return cached_bytes(address, n) != nullptr; }

  // Physical address of the top-level table (CR3 with flag bits masked).
  uint64_t table_base() const { return table_base_; }
  int levels() const { return levels_; }
  // True if bits 63..(47 or 56) are copies of bit 47 (or 56).
  bool is_canonical(uint64_t vaddr) const;
  // Drops every cached translation (done automatically on generation change).
  void flush_cache();

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override {
    if (copy_if_cached(address, buffer, n)) return IoResult{n, {}};
    return read_slow(address, buffer, n, flags);
  }
  // Writes are forwarded to the layer below at the translated physical
  // address, one page at a time. Page permissions are not enforced: an
  // analyst patching read-only kernel text is a legitimate use. Every page
  // is translated before anything is written, so an unmapped page in the
  // range writes nothing.
  IoResult do_write(uint64_t address, const void* buffer, size_t n) override;

 private:
  // The software TLB, per 4 KiB virtual page: 4-way set-associative, a set
  // being one 64-byte line of {tag, data pointer} (all the hot path reads),
  // with the rest of each translation in a parallel cold array. A tag is
  // the page number (< 2^52 for canonical addresses) with the cache epoch
  // in bits 63:52, so one compare checks both and a flush is ++epoch.
  static constexpr unsigned kWays = 4;
  static constexpr unsigned kEpochShift = 52;
  static constexpr uint32_t kEpochLimit = 1u << (64 - kEpochShift);
  struct TlbWay {
    uint64_t tag = 0;               // 0: empty (epochs start at 1)
    const uint8_t* data = nullptr;  // below's peek of the page, or nullptr
  };
  struct alignas(64) TlbSet {
    TlbWay way[kWays];
  };
  struct TlbInfo {
    uint64_t physical = 0;          // physical address of the 4 KiB page
    const uint8_t* data = nullptr;  // as in TlbWay
    uint8_t page_shift = 0;         // 12, 21 or 30: size of the mapping
    bool writable = false, user = false, nx = false;
  };
  struct RegionEntry;
  struct Permissions;
  class TableWalker;

  // The translation of `vaddr`'s 4 KiB page, cached on a miss, or nullptr
  // (with `why` filled, naming `vaddr`) when the page is not mapped.
  const TlbInfo* lookup(uint64_t vaddr, Fault* why);
  // The levels above the page table for `vaddr`'s 2 MiB region, cached.
  const RegionEntry* lookup_region(uint64_t vaddr, Fault* why);
  // Reads the entry for `vaddr` at `level` from `table` (through `table_data`
  // when the lower layer gave a pointer to it); checks present and reserved bits.
  std::optional<uint64_t> load_entry(uint64_t vaddr, int level, uint64_t table, const uint8_t* table_data,
                                     Fault* why) const;
  // The bytes at `address` when [address, address + n) lies in one page
  // whose translation and lower-layer pointer are cached and still valid;
  // else nullptr.
  const uint8_t* cached_bytes(uint64_t address, size_t n) const;
  // do_read's hot path: copies n bytes and returns true when cached_bytes
  // has them; else copies nothing and returns false.
  bool copy_if_cached(uint64_t address, void* buffer, size_t n) const;
  // do_read past its hot path: misses, page crossings, faults.
  IoResult read_slow(uint64_t address, void* buffer, size_t n, unsigned flags);
  // Drops the caches if the lower layer changed since they were filled.
  void sync_generation();
  // Allocates the caches on first use.
  void allocate_caches();

  AddressSpace& below_;
  uint64_t table_base_;
  int levels_;
  std::string name_;

  // Before the first lookup tlb_ points at one static empty set (mask 0),
  // so the hot path needs no null check. The region cache (direct-mapped,
  // per 2 MiB of virtual space: a large leaf or a page table) makes a TLB
  // miss cost one entry load instead of a four- or five-level walk.
  static const TlbSet no_translations_;
  const TlbSet* tlb_;
  uint64_t tlb_set_mask_ = 0;
  size_t tlb_sets_;
  std::unique_ptr<TlbSet[]> tlb_storage_;
  std::unique_ptr<TlbInfo[]> tlb_info_;  // [set * kWays + way]
  std::unique_ptr<RegionEntry[]> regions_;
  uint32_t epoch_ = 1;                          // 1 .. kEpochLimit - 1
  uint64_t epoch_tag_ = uint64_t{1} << kEpochShift;  // epoch_ << kEpochShift
  uint64_t seen_generation_;
};

inline const uint8_t* X86_64Paging::cached_bytes(uint64_t address, size_t n) const {
  uint64_t offset = address & (kPageSize - 1);
  if (n > kPageSize - offset || generation() != seen_generation_) return nullptr;
  uint64_t page = address >> 12;
  uint64_t tag = page | epoch_tag_;
  const TlbWay* way = tlb_[page & tlb_set_mask_].way;
  const uint8_t* data;
  if (way[0].tag == tag)
    data = way[0].data;
  else if (way[1].tag == tag)
    data = way[1].data;
  else if (way[2].tag == tag)
    data = way[2].data;
  else if (way[3].tag == tag)
    data = way[3].data;
  else
    return nullptr;
  return data ? data + offset : nullptr;
}

inline bool X86_64Paging::copy_if_cached(uint64_t address, void* buffer, size_t n) const {
  const uint8_t* data = cached_bytes(address, n);
  if (!data) return false;
  // Constant sizes compile to single moves; reads of pointers and integers
  // dominate.
  auto* out = static_cast<uint8_t*>(buffer);
  switch (n) {
    case 8: std::memcpy(out, data, 8); break;
    case 4: std::memcpy(out, data, 4); break;
    case 2: std::memcpy(out, data, 2); break;
    case 1: *out = *data; break;
    default: std::memcpy(out, data, n);
  }
  return true;
}

}  // namespace memscope
