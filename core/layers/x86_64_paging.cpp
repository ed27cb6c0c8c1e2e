#include "core/layers/x86_64_paging.h"

#include <algorithm>
#include <array>
#include <bit>
#include <cstring>
#include <unordered_set>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

// Entry bits (Intel SDM vol. 3, 4.5).
constexpr uint64_t kPresent = 1ull << 0;
constexpr uint64_t kWritable = 1ull << 1;
constexpr uint64_t kUser = 1ull << 2;
constexpr uint64_t kPageSizeBit = 1ull << 7;  // PS: a 1G (PDPTE) or 2M (PDE) leaf
constexpr uint64_t kNoExecute = 1ull << 63;
// Physical address bits 51:12. Bits 62:52 are ignored or protection keys,
// bit 63 is NX: none of them are part of the address.
constexpr uint64_t kAddressMask = 0x000ffffffffff000ull;

constexpr unsigned kPageShift = 12;
constexpr uint64_t kPageOffsetMask = 0xfff;
constexpr size_t kEntriesPerTable = 512;

// Region cache: one entry per 2 MiB of virtual space, direct-mapped.
constexpr size_t kRegionEntries = 1024;
constexpr unsigned kRegionShift = 21;
constexpr uint64_t kRegionSize = 1ull << kRegionShift;

uint64_t from_little_endian(uint64_t value) {
  if constexpr (std::endian::native == std::endian::big) return __builtin_bswap64(value);
  return value;
}

// Level 1 is the page table, levels_ the top (PML4 or PML5).
const char* table_name(int level) {
  switch (level) {
    case 5: return "PML5 table";
    case 4: return "PML4 table";
    case 3: return "page-directory-pointer table";
    case 2: return "page directory";
    default: return "page table";
  }
}

const char* entry_name(int level) {
  switch (level) {
    case 5: return "PML5 entry";
    case 4: return "PML4 entry";
    case 3: return "PDPT entry";
    case 2: return "PD entry";
    default: return "PT entry";
  }
}

unsigned level_shift(int level) { return kPageShift + 9u * static_cast<unsigned>(level - 1); }

// Sign-extends from bit (bits - 1): the canonical form of an address.
uint64_t canonical(uint64_t vaddr, unsigned bits) {
  unsigned unused = 64 - bits;
  return static_cast<uint64_t>(static_cast<int64_t>(vaddr << unused) >> unused);
}

}  // namespace

int paging_levels_from_cr4(uint64_t cr4) { return (cr4 & (1ull << 12)) ? 5 : 4; }

struct X86_64Paging::Permissions {
  // Writable and user only if every level allows it; nx if any level says so.
  bool writable = true, user = true, nx = false;
  void add(uint64_t entry) {
    writable = writable && (entry & kWritable);
    user = user && (entry & kUser);
    nx = nx || (entry & kNoExecute);
  }
};

struct X86_64Paging::RegionEntry {
  uint64_t region = 0;            // vaddr >> 21
  // page_shift 12: physical address of the page table for the region;
  // 21 or 30: physical address of the region's 2 MiB slice of a large page.
  uint64_t physical = 0;
  const uint8_t* data = nullptr;  // below's peek of that table or slice, or nullptr
  uint32_t epoch = 0;
  uint8_t page_shift = 0;
  Permissions permissions;        // of the levels above the page table (or of the leaf)
};


// What tlb_ points at before the caches exist: tags 0 never match.
const X86_64Paging::TlbSet X86_64Paging::no_translations_{};

X86_64Paging::X86_64Paging(AddressSpace& below, uint64_t cr3, int levels, std::string name, size_t cache_pages)
    : below_(below),
      table_base_(cr3 & kAddressMask),
      levels_(levels),
      name_(std::move(name)),
      tlb_(&no_translations_),
      tlb_sets_(std::bit_ceil(std::clamp<size_t>(cache_pages, kWays, size_t{1} << 30)) / kWays) {
  share_generation(below);
  seen_generation_ = generation();
  if (levels != 4 && levels != 5)
    throw Error("x86_64 paging: " + std::to_string(levels) + " levels asked, only 4 and 5 exist");
  if (name_.empty()) name_ = levels == 5 ? "x86_64-5level" : "x86_64-4level";
}

void X86_64Paging::allocate_caches() {
  tlb_storage_.reset(new TlbSet[tlb_sets_]);
  tlb_info_.reset(new TlbInfo[tlb_sets_ * kWays]);
  regions_.reset(new RegionEntry[kRegionEntries]);
  tlb_ = tlb_storage_.get();
  tlb_set_mask_ = tlb_sets_ - 1;
}

X86_64Paging::~X86_64Paging() = default;

bool X86_64Paging::is_canonical(uint64_t vaddr) const {
  return canonical(vaddr, levels_ == 5 ? 57 : 48) == vaddr;
}

void X86_64Paging::flush_cache() {
  if (++epoch_ == kEpochLimit) {
    // The epoch no longer fits the tag: start again from 1 with every
    // entry cleared, so that no old tag can match.
    if (tlb_storage_) {
      for (size_t i = 0; i < tlb_sets_; ++i) tlb_storage_[i] = TlbSet{};
      for (size_t i = 0; i < kRegionEntries; ++i) regions_[i].epoch = 0;
    }
    epoch_ = 1;
  }
  epoch_tag_ = uint64_t{epoch_} << kEpochShift;
}

void X86_64Paging::sync_generation() {
  uint64_t now = generation();
  if (now != seen_generation_) {
    seen_generation_ = now;
    flush_cache();
  }
}

std::optional<uint64_t> X86_64Paging::load_entry(uint64_t vaddr, int level, uint64_t table,
                                                 const uint8_t* table_data, Fault* why) const {
  auto fail = [&](std::string reason) -> std::optional<uint64_t> {
    if (why) *why = Fault{vaddr, name_, std::move(reason)};
    return std::nullopt;
  };
  uint64_t index = (vaddr >> level_shift(level)) & (kEntriesPerTable - 1);
  uint64_t entry_address = table + index * 8;
  uint64_t entry = 0;
  if (table_data) {
    std::memcpy(&entry, table_data + index * 8, sizeof entry);
  } else {
    IoResult io = below_.read(entry_address, &entry, sizeof entry);
    if (!io.ok())
      return fail(std::string(table_name(level)) + " at physical " + hex(table) + " unreadable (entry " +
                  std::to_string(index) + "): " + io.fault->message());
  }
  entry = from_little_endian(entry);
  if (!(entry & kPresent))
    return fail(std::string(entry_name(level)) + " not present (entry " + std::to_string(index) + " of the " +
                table_name(level) + " at physical " + hex(table) + " is " + hex(entry) + ")");
  if ((entry & kPageSizeBit) && level > 3)
    return fail(std::string(entry_name(level)) + " at physical " + hex(entry_address) +
                " has the reserved page-size bit set (" + hex(entry) + ")");
  return entry;
}

const X86_64Paging::RegionEntry* X86_64Paging::lookup_region(uint64_t vaddr, Fault* why) {
  uint64_t region_number = vaddr >> kRegionShift;
  RegionEntry& region = regions_[region_number & (kRegionEntries - 1)];
  if (region.epoch == epoch_ && region.region == region_number) return &region;

  if (!is_canonical(vaddr)) {
    if (why)
      *why = Fault{vaddr, name_,
                   std::string("non-canonical address (bits 63:") + (levels_ == 5 ? "56" : "47") +
                       " must all equal bit " + (levels_ == 5 ? "56" : "47") + ")"};
    return nullptr;
  }
  Permissions permissions;
  uint64_t table = table_base_;
  uint64_t physical = 0;
  unsigned shift = 0;
  for (int level = levels_; level >= 2 && !shift; --level) {
    std::optional<uint64_t> entry = load_entry(vaddr, level, table, nullptr, why);
    if (!entry) return nullptr;
    permissions.add(*entry);
    bool large = (*entry & kPageSizeBit) != 0;
    if (large) {
      // For 2M/1G leaves bit 12 is the PAT bit, not an address bit: mask to
      // the page's own alignment.
      shift = level_shift(level);
      uint64_t page_size = 1ull << shift;
      physical = (*entry & kAddressMask & ~(page_size - 1)) + (vaddr & (page_size - 1) & ~(kRegionSize - 1));
    } else if (level == 2) {
      shift = kPageShift;
      physical = *entry & kAddressMask;  // the page table
    } else {
      table = *entry & kAddressMask;
    }
  }
  region.region = region_number;
  region.physical = physical;
  region.page_shift = static_cast<uint8_t>(shift);
  region.permissions = permissions;
  region.data = below_.peek(physical, shift == kPageShift ? kPageSize : kRegionSize);
  region.epoch = epoch_;
  return &region;
}

const X86_64Paging::TlbInfo* X86_64Paging::lookup(uint64_t vaddr, Fault* why) {
  if (!tlb_storage_) allocate_caches();
  uint64_t page = vaddr >> kPageShift;
  uint64_t tag = page | epoch_tag_;
  size_t set_index = page & tlb_set_mask_;
  TlbWay* ways = tlb_storage_[set_index].way;
  TlbInfo* infos = &tlb_info_[set_index * kWays];
  for (unsigned way = 0; way < kWays; ++way)
    if (ways[way].tag == tag) return &infos[way];

  const RegionEntry* region = lookup_region(vaddr, why);
  if (!region) return nullptr;
  TlbInfo info;
  Permissions permissions = region->permissions;
  if (region->page_shift != kPageShift) {
    uint64_t inside = vaddr & (kRegionSize - 1) & ~kPageOffsetMask;
    info.physical = region->physical + inside;
    if (region->data) info.data = region->data + inside;
  } else {
    std::optional<uint64_t> entry = load_entry(vaddr, 1, region->physical, region->data, why);
    if (!entry) return nullptr;
    permissions.add(*entry);
    info.physical = *entry & kAddressMask;
  }
  if (!info.data) info.data = below_.peek(info.physical, kPageSize);
  info.page_shift = region->page_shift;
  info.writable = permissions.writable;
  info.user = permissions.user;
  info.nx = permissions.nx;

  // Newest first: the others move down a way and the oldest leaves.
  for (unsigned way = kWays - 1; way > 0; --way) {
    ways[way] = ways[way - 1];
    infos[way] = infos[way - 1];
  }
  ways[0] = TlbWay{tag, info.data};
  infos[0] = info;
  return &infos[0];
}

std::optional<Translation> X86_64Paging::translate(uint64_t vaddr, Fault* why) {
  sync_generation();
  const TlbInfo* entry = lookup(vaddr, why);
  if (!entry) return std::nullopt;
  return Translation{entry->physical + (vaddr & kPageOffsetMask), 1ull << entry->page_shift,
                     entry->writable, entry->user, entry->nx};
}

IoResult X86_64Paging::read_slow(uint64_t address, void* buffer, size_t n, unsigned flags) {
  IoResult result;
  if (n == 0) return result;
  sync_generation();
  auto* out = static_cast<uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t offset = static_cast<size_t>(at & kPageOffsetMask);
    size_t take = std::min<size_t>(n - result.done, kPageSize - offset);
    if (at < address) {
      result.fault = Fault{at, name_, "read runs past the end of the 64-bit address space"};
      return result;
    }
    Fault fault;
    const TlbInfo* entry = lookup(at, &fault);
    if (!entry) {
      if (!(flags & kReadPad)) {
        result.fault = std::move(fault);
        return result;
      }
      std::memset(out + result.done, 0, take);
      result.done += take;
      continue;
    }
    if (entry->data) {
      std::memcpy(out + result.done, entry->data + offset, take);
      result.done += take;
      continue;
    }
    uint64_t physical = entry->physical + offset;
    IoResult lower = below_.read(physical, out + result.done, take, flags);
    if (!lower.ok()) {
      result.done += lower.done;
      result.fault = Fault{at + lower.done, name_,
                           "mapped to physical " + hex(physical + lower.done) + ": " +
                               lower.fault->message()};
      return result;
    }
    result.done += take;
  }
  return result;
}

IoResult X86_64Paging::do_write(uint64_t address, const void* buffer, size_t n) {
  IoResult result;
  if (n == 0) return result;
  if (address + n < address && address + n != 0) {
    result.fault = Fault{address, name_, "write runs past the end of the 64-bit address space"};
    return result;
  }
  sync_generation();
  // Translate every page first so an unmapped page writes nothing.
  for (uint64_t done = 0; done < n;) {
    uint64_t at = address + done;
    Fault fault;
    if (!lookup(at, &fault)) {
      result.fault = std::move(fault);
      return result;
    }
    done += kPageSize - (at & kPageOffsetMask);
  }
  const auto* in = static_cast<const uint8_t*>(buffer);
  while (result.done < n) {
    uint64_t at = address + result.done;
    size_t offset = static_cast<size_t>(at & kPageOffsetMask);
    size_t take = std::min<size_t>(n - result.done, kPageSize - offset);
    // The previous page's write may have changed a page table.
    sync_generation();
    Fault fault;
    const TlbInfo* entry = lookup(at, &fault);
    if (!entry) {
      result.fault = std::move(fault);
      return result;
    }
    uint64_t physical = entry->physical + offset;
    IoResult lower = below_.write(physical, in + result.done, take);
    if (!lower.ok()) {
      result.done += lower.done;
      result.fault = Fault{at + lower.done, name_,
                           "mapped to physical " + hex(physical + lower.done) + ": " +
                               lower.fault->message("write")};
      return result;
    }
    result.done += take;
  }
  sync_generation();
  return result;
}

const uint8_t* X86_64Paging::peek(uint64_t address, size_t n) {
  // Typed-object readers peek before they read: the cache hit first.
  if (const uint8_t* hit = cached_bytes(address, n)) return hit;
  size_t offset = static_cast<size_t>(address & kPageOffsetMask);
  if (n > kPageSize - offset) return nullptr;
  sync_generation();
  const TlbInfo* entry = lookup(address, nullptr);
  if (!entry) return nullptr;
  if (entry->data) return entry->data + offset;
  // The lower layer may still hold a part of the page (a segment that
  // ends inside it).
  return below_.peek(entry->physical + offset, n);
}

// Enumerates leaf mappings depth-first in ascending virtual order.
class X86_64Paging::TableWalker {
 public:
  TableWalker(const X86_64Paging& paging, const MappingVisitor& visit) : paging_(paging), visit_(visit) {}

  void run() { walk(paging_.table_base_, paging_.levels_, 0, true, true, false); }

 private:
  // Returns false when the visitor asked to stop.
  bool walk(uint64_t table, int level, uint64_t virtual_base, bool writable, bool user, bool nx) {
    // Each table page once: bounds the walk by the number of distinct
    // table pages even if entries alias or point back up (recursive maps).
    if (!visited_.insert(table).second) return true;
    std::array<uint64_t, kEntriesPerTable> entries;
    if (!paging_.below_.read(table, entries.data(), sizeof entries).ok()) return true;
    unsigned shift = level_shift(level);
    unsigned virtual_bits = paging_.levels_ == 5 ? 57 : 48;
    for (size_t index = 0; index < kEntriesPerTable; ++index) {
      uint64_t entry = from_little_endian(entries[index]);
      if (!(entry & kPresent)) continue;
      uint64_t vaddr = virtual_base | (static_cast<uint64_t>(index) << shift);
      if (level == paging_.levels_) vaddr = canonical(vaddr, virtual_bits);
      bool level_writable = writable && (entry & kWritable);
      bool level_user = user && (entry & kUser);
      bool level_nx = nx || (entry & kNoExecute);
      bool large = (entry & kPageSizeBit) != 0;
      if (large && level > 3) continue;  // reserved bit: the CPU would fault
      if (level == 1 || large) {
        uint64_t size = 1ull << shift;
        uint64_t physical = entry & kAddressMask & ~(size - 1);
        if (!visit_(vaddr, physical, size, Translation{physical, size, level_writable, level_user, level_nx}))
          return false;
        continue;
      }
      if (!walk(entry & kAddressMask, level - 1, vaddr, level_writable, level_user, level_nx)) return false;
    }
    return true;
  }

  const X86_64Paging& paging_;
  const MappingVisitor& visit_;
  std::unordered_set<uint64_t> visited_;
};

void X86_64Paging::for_each_mapping(const MappingVisitor& visit) const {
  TableWalker(*this, visit).run();
}

void X86_64Paging::ranges(const std::function<bool(const Range&)>& visit) const {
  Range pending{};
  bool have = false, stopped = false;
  for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t size, const Translation&) {
    if (have && pending.end() == vaddr) {
      pending.size += size;
      return true;
    }
    if (have && !visit(pending)) {
      stopped = true;
      return false;
    }
    pending = Range{vaddr, size};
    have = true;
    return true;
  });
  if (have && !stopped) visit(pending);
}

}  // namespace memscope
