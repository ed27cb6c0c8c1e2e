#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/overlay.h"
#include "core/layers/x86_64_paging.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/page_table_builder.h"

using namespace memscope;
using test::BufferSpace;
using test::PageTableBuilder;

namespace {

constexpr uint64_t kTables = 0x100000;  // tables from 1 MiB up, data elsewhere

std::string read_string(AddressSpace& space, uint64_t address, size_t n) {
  std::string out(n, '\0');
  IoResult r = space.read(address, out.data(), n);
  REQUIRE(r.ok());
  return out;
}

std::vector<Range> all_ranges(const AddressSpace& space) {
  std::vector<Range> seen;
  space.ranges([&](const Range& range) {
    seen.push_back(range);
    return true;
  });
  return seen;
}

}  // namespace

TEST_CASE("paging mode from CR4") {
  CHECK(paging_levels_from_cr4(0) == 4);
  CHECK(paging_levels_from_cr4(0x6f0) == 4);
  CHECK(paging_levels_from_cr4(1u << 12) == 5);
  CHECK(paging_levels_from_cr4(0x3406f0 | (1u << 12)) == 5);
}

TEST_CASE("paging rejects a level count that does not exist") {
  BufferSpace physical;
  CHECK_THROWS_AS(X86_64Paging(physical, 0x1000, 3), Error);
  CHECK_THROWS_AS(X86_64Paging(physical, 0x1000, 6), Error);
}

TEST_CASE("4-level paging reads through 4K / 2M and 1G pages") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  const uint64_t v4k = 0xffff888000401000, p4k = 0x7654000;
  const uint64_t v2m = 0xffffffff81200000, p2m = 0x2400000;
  const uint64_t v1g = 0x00007f0040000000, p1g = 0x80000000;  // 2 GiB
  tables.map_4k(v4k, p4k);
  tables.map_2m(v2m, p2m);
  tables.map_1g(v1g, p1g, PageTableBuilder::kPresent | PageTableBuilder::kUser);
  physical.put_string(p4k + 0x123, "four-k");
  physical.put_string(p2m + 0x1abcde, "two-m");
  physical.put_string(p1g + 0x2345678, "one-g");

  X86_64Paging paging(physical, tables.dtb(), 4);
  CHECK(paging.name() == "x86_64-4level");
  CHECK(paging.below() == &physical);
  CHECK(read_string(paging, v4k + 0x123, 7) == std::string("four-k", 7));
  CHECK(read_string(paging, v2m + 0x1abcde, 6) == std::string("two-m", 6));
  CHECK(read_string(paging, v1g + 0x2345678, 6) == std::string("one-g", 6));

  auto t = paging.translate(v2m + 0x1abcde);
  REQUIRE(t);
  CHECK(t->physical == p2m + 0x1abcde);
  CHECK(t->page_size == 0x200000);
  CHECK(t->writable);

  t = paging.translate(v1g + 0x2345678);
  REQUIRE(t);
  CHECK(t->physical == p1g + 0x2345678);
  CHECK(t->page_size == 0x40000000);
  CHECK(t->user);
  CHECK_FALSE(t->writable);

  // Other 4K pages and 2M slices of the large pages.
  physical.put_string(p1g + 0x3ffff000, "end-of-1g");
  physical.put_string(p1g, "start-of-1g");
  physical.put_string(p2m + 0x1ff000, "end-of-2m");
  CHECK(read_string(paging, v1g + 0x3ffff000, 9) == "end-of-1g");
  CHECK(read_string(paging, v1g, 11) == "start-of-1g");
  CHECK(read_string(paging, v2m + 0x1ff000, 9) == "end-of-2m");
  CHECK(paging.translate(v1g + 0x3ffff123)->physical == p1g + 0x3ffff123);

  t = paging.translate(v4k + 0xfff);
  REQUIRE(t);
  CHECK(t->physical == p4k + 0xfff);
  CHECK(t->page_size == 0x1000);
  CHECK_FALSE(t->user);  // kernel page: leaf lacks U/S
}

TEST_CASE("5-level paging maps addresses beyond 48 bits") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 5, kTables);
  const uint64_t low = 0x00ff123456789000;   // bit 56 clear, bits 55:48 set
  const uint64_t high = 0xff11000000000000;  // upper half of a 57-bit space
  tables.map_4k(low, 0x5000);
  tables.map_2m(high, 0x600000);
  physical.put_string(0x5010, "beyond-48");
  physical.put_string(0x600000 + 0x1234, "upper-57");

  X86_64Paging paging(physical, tables.dtb(), 5);
  CHECK(paging.name() == "x86_64-5level");
  CHECK(read_string(paging, low + 0x10, 9) == "beyond-48");
  CHECK(read_string(paging, high + 0x1234, 8) == "upper-57");
  CHECK(paging.is_canonical(low));
  CHECK(paging.is_canonical(high));
  CHECK_FALSE(paging.is_canonical(0x0100000000000000));

  // The same address is not canonical with 4 levels.
  X86_64Paging four(physical, tables.dtb(), 4);
  Fault why;
  CHECK_FALSE(four.translate(low, &why));
  CHECK_THAT(why.reason, Catch::Contains("non-canonical"));

  auto seen = all_ranges(paging);
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == Range{low, 0x1000});
  CHECK(seen[1] == Range{high, 0x200000});
}

TEST_CASE("unmapped and non-canonical addresses fault with the address / layer and level") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0xffff888000001000, 0x3000);
  physical.put_string(0x3000, "mapped");
  X86_64Paging paging(physical, tables.dtb(), 4, "kernel");

  char buffer[16];
  SECTION("no PML4 entry") {
    IoResult r = paging.read(0x00007fff00000000, buffer, 8);
    REQUIRE_FALSE(r.ok());
    CHECK(r.done == 0);
    CHECK(r.fault->address == 0x00007fff00000000);
    CHECK(r.fault->layer == "kernel");
    CHECK_THAT(r.fault->reason, Catch::Contains("PML4 entry not present"));
    CHECK_THAT(r.fault->message(), Catch::Contains("0x7fff00000000"));
  }
  SECTION("hole in the page table next to a mapped page") {
    Fault why;
    CHECK_FALSE(paging.translate(0xffff888000002000, &why));
    CHECK(why.address == 0xffff888000002000);
    CHECK_THAT(why.reason, Catch::Contains("PT entry not present"));
    // A read running from the mapped page into the hole stops at the hole.
    IoResult r = paging.read(0xffff888000001ffc, buffer, 8);
    CHECK(r.done == 4);
    REQUIRE(r.fault);
    CHECK(r.fault->address == 0xffff888000002000);
  }
  SECTION("non-canonical") {
    IoResult r = paging.read(0x0000900000000000, buffer, 8);
    REQUIRE(r.fault);
    CHECK(r.fault->address == 0x0000900000000000);
    CHECK_THAT(r.fault->reason, Catch::Contains("non-canonical"));
    CHECK_THROWS_AS(paging.read_value<uint64_t>(0x8000000000000000), ReadError);
  }
  SECTION("a table page missing from the image") {
    // A PML4 entry that points at physical memory the image does not hold.
    tables.set_top_entry(3, 0x7777000 | PageTableBuilder::kPresent);
    paging.flush_cache();
    Fault why;
    CHECK_FALSE(paging.translate(3ull << 39, &why));
    CHECK_THAT(why.reason, Catch::Contains("page-directory-pointer table at physical 0x7777000 unreadable"));
  }
  SECTION("a leaf pointing outside the image") {
    tables.map_4k(0xffff888000005000, 0x9990000);
    IoResult r = paging.read(0xffff888000005008, buffer, 8);
    REQUIRE(r.fault);
    CHECK(r.fault->address == 0xffff888000005008);
    CHECK_THAT(r.fault->reason, Catch::Contains("physical 0x9990008"));
  }
  SECTION("padded reads zero-fill holes") {
    std::vector<char> out(0x2000, 'x');
    IoResult r = paging.read(0xffff888000001000, out.data(), out.size(), kReadPad);
    CHECK(r.ok());
    CHECK(r.done == out.size());
    CHECK(std::string(out.data()) == "mapped");
    CHECK(out[0x1000] == 0);
    CHECK(out[0x1fff] == 0);
  }
}

TEST_CASE("CR3 flag bits are masked: PCID / no-flush bit / reserved high bits") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0xffffffff80001000, 0x4000);
  physical.put_string(0x4000, "pcid");
  uint64_t cr3 = tables.dtb() | 0x2a /* PCID */ | (1ull << 63) /* no flush */;
  X86_64Paging paging(physical, cr3, 4);
  CHECK(paging.table_base() == tables.dtb());
  CHECK(read_string(paging, 0xffffffff80001000, 4) == "pcid");
}

TEST_CASE("entry bits that are not address bits are ignored") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  // NX, protection-key / ignored bits 62:52 and the 2M PAT bit set.
  uint64_t noise = PageTableBuilder::kNoExecute | (0x7ffull << 52);
  tables.map_4k(0xffff800000001000, 0x3000, PageTableBuilder::kPresent | noise);
  tables.map_2m(0xffff800000200000, 0x400000, PageTableBuilder::kPresent | PageTableBuilder::kPat2M1G);
  physical.put_string(0x3004, "masked");
  physical.put_string(0x400000 + 0x10, "pat");
  X86_64Paging paging(physical, tables.dtb(), 4);
  auto t = paging.translate(0xffff800000001004);
  REQUIRE(t);
  CHECK(t->physical == 0x3004);
  CHECK(t->nx);
  CHECK(read_string(paging, 0xffff800000001004, 6) == "masked");
  t = paging.translate(0xffff800000200010);
  REQUIRE(t);
  CHECK(t->physical == 0x400010);
  CHECK_FALSE(t->nx);
}

TEST_CASE("a read spanning two pages mapped to distant physical pages") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  const uint64_t v = 0xffffc90000010000;
  tables.map_4k(v, 0x123456000);            // above 4 GiB
  tables.map_4k(v + 0x1000, 0x0000a000);    // far below
  physical.put(0x123456000 + 0xffa, "abcdef", 6);
  physical.put(0xa000, "ghijkl", 6);
  X86_64Paging paging(physical, tables.dtb(), 4);
  CHECK(read_string(paging, v + 0xffa, 12) == "abcdefghijkl");
  CHECK(paging.peek(v + 0xffa, 6) != nullptr);
  CHECK(paging.peek(v + 0xffa, 12) == nullptr);  // spans pages
  CHECK(std::memcmp(paging.peek(v + 0x1000, 6), "ghijkl", 6) == 0);
}

TEST_CASE("warm reads come from the translation cache") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0xffff888000010000, 0x20000);
  physical.put_u64(0x20008, 0x1122334455667788);
  X86_64Paging paging(physical, tables.dtb(), 4);
  CHECK(paging.read_value<uint64_t>(0xffff888000010008) == 0x1122334455667788);
  uint64_t reads_after_first = physical.reads();
  for (int i = 0; i < 100; ++i)
    CHECK(paging.read_value<uint64_t>(0xffff888000010000 + 8 * (i % 512)) ==
          (i % 512 == 1 ? 0x1122334455667788 : 0));
  // No table walk, and no read of the physical layer at all: the page's
  // peek pointer is cached.
  CHECK(physical.reads() == reads_after_first);

  // Another page of the same page table: the levels above it are cached,
  // so at most the page-table entry itself is read.
  tables.map_4k(0xffff888000011000, 0x21000);
  physical.put_u64(0x21000, 42);
  uint64_t before = physical.reads();
  CHECK(paging.read_value<uint64_t>(0xffff888000011000) == 42);
  CHECK(physical.reads() - before <= 1);

  // After a flush the tables are walked again.
  paging.flush_cache();
  before = physical.reads();
  paging.read_value<uint64_t>(0xffff888000010008);
  CHECK(physical.reads() > before);
}

TEST_CASE("pages competing for one translation cache set stay correct") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  // Virtual pages 16 MiB apart share a set of the cache; map five of them.
  const uint64_t base = 0xffffc90000000000, stride = 4096ull * 4096;
  for (uint64_t i = 0; i < 5; ++i) {
    tables.map_4k(base + i * stride, 0x200000 + i * 0x1000);
    physical.put_u64(0x200000 + i * 0x1000 + 8, 100 + i);
  }
  X86_64Paging paging(physical, tables.dtb(), 4);
  X86_64Paging tiny(physical, tables.dtb(), 4, "tiny", 2);  // one set of two
  for (int round = 0; round < 3; ++round)
    for (uint64_t i : {0, 1, 2, 3, 4, 0, 2, 4, 1, 3}) {
      CHECK(paging.read_value<uint64_t>(base + i * stride + 8) == 100 + i);
      CHECK(tiny.read_value<uint64_t>(base + i * stride + 8) == 100 + i);
    }
}

TEST_CASE("flushes never serve stale translations / even when the epoch wraps") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  const uint64_t v = 0xffff888000400000;
  tables.map_4k(v, 0x70000);
  physical.put_u64(0x70000, 1);
  physical.put_u64(0x71000, 2);
  X86_64Paging paging(physical, tables.dtb(), 4);
  CHECK(paging.read_value<uint64_t>(v) == 1);
  // Edit the PTE behind the layer's back (no generation change): only a
  // flush makes the change visible.
  physical.put_u64(tables.entry_address(v, 1), 0x71000 | PageTableBuilder::kPresent);
  CHECK(paging.read_value<uint64_t>(v) == 1);
  for (int i = 0; i < 5000; ++i) {
    paging.flush_cache();
    // Every epoch value comes round again within 5000 flushes.
    if (paging.is_cached(v, 8)) FAIL("stale entry served after " << i + 1 << " flushes");
  }
  CHECK(paging.read_value<uint64_t>(v) == 2);
}

TEST_CASE("the read cache serves only cached / unchanged pages") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0xffff888000010000, 0x20000);
  physical.put_u64(0x20010, 0xfeedface);
  Overlay overlay(physical);
  X86_64Paging paging(overlay, tables.dtb(), 4);
  CHECK_FALSE(paging.is_cached(0xffff888000010010, 8));  // cold
  CHECK(paging.read_value<uint64_t>(0xffff888000010010) == 0xfeedface);
  CHECK(paging.is_cached(0xffff888000010010, 8));
  CHECK(paging.read_value<uint64_t>(0xffff888000010010) == 0xfeedface);  // from the cache
  CHECK_FALSE(paging.is_cached(0xffff888000010ffc, 8));  // crosses a page
  uint64_t patched = 0x1234;
  REQUIRE(overlay.write(0x20010, &patched, 8).ok());
  CHECK_FALSE(paging.is_cached(0xffff888000010010, 8));  // generation changed
  CHECK(paging.read_value<uint64_t>(0xffff888000010010) == 0x1234);
  CHECK(paging.is_cached(0xffff888000010010, 8));
  CHECK(paging.read_value<uint64_t>(0xffff888000010010) == 0x1234);
  // Any change in the stack drops the cache: a write to the overlay's
  // other pages, or a discard.
  overlay.discard();
  CHECK_FALSE(paging.is_cached(0xffff888000010010, 8));
  CHECK(paging.read_value<uint64_t>(0xffff888000010010) == 0xfeedface);
}

TEST_CASE("writes through paging land in the overlay at the physical page") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  const uint64_t v = 0xffff888000200000;
  tables.map_4k(v, 0x50000);
  tables.map_4k(v + 0x1000, 0x90000);
  physical.put_string(0x50ff0, "original-bytes-0");
  physical.put_string(0x90000, "second-page");
  Overlay overlay(physical);
  X86_64Paging paging(overlay, tables.dtb(), 4);
  CHECK(read_string(paging, v + 0xff0, 16) == "original-bytes-0");

  IoResult w = paging.write(v + 0xffc, "PATCHED!", 8);  // spans both pages
  REQUIRE(w.ok());
  CHECK(w.done == 8);
  CHECK(overlay.dirty_pages() == 2);
  CHECK(overlay.dirty_page(0x50000) != nullptr);
  CHECK(overlay.dirty_page(0x90000) != nullptr);
  // Seen through paging and through the overlay at the physical addresses.
  CHECK(read_string(paging, v + 0xff0, 20) == "original-bytPATCHED!");
  CHECK(read_string(overlay, 0x50ffc, 4) == "PATC");
  CHECK(read_string(overlay, 0x90000, 11) == "HED!nd-page");
  // The evidence layer is untouched.
  CHECK(read_string(physical, 0x50ff0, 16) == "original-bytes-0");
  CHECK(read_string(physical, 0x90000, 11) == "second-page");

  // A write into an unmapped page writes nothing at all.
  uint64_t generation = overlay.generation();
  w = paging.write(v + 0x1ffe, "xyzw", 4);
  REQUIRE(w.fault);
  CHECK(w.done == 0);
  CHECK(w.fault->address == v + 0x2000);
  CHECK(overlay.generation() == generation);
  CHECK(read_string(paging, v + 0x1ffe, 2) == std::string(2, '\0'));

  // Writes to paging over a bare physical layer are refused.
  X86_64Paging read_only(physical, tables.dtb(), 4);
  w = read_only.write(v, "x", 1);
  REQUIRE(w.fault);
  CHECK_THAT(w.fault->reason, Catch::Contains("read-only"));
}

TEST_CASE("the translation cache is dropped when a write changes a page table entry") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  const uint64_t v = 0xffff888000300000;
  tables.map_4k(v, 0x60000);
  physical.put_string(0x60000, "page-A");
  physical.put_string(0x61000, "page-B");
  Overlay overlay(physical);
  X86_64Paging paging(overlay, tables.dtb(), 4);
  CHECK(read_string(paging, v, 6) == "page-A");
  CHECK(read_string(paging, v, 6) == "page-A");  // now cached

  uint64_t pte = tables.entry_address(v, 1);
  uint64_t new_entry = 0x61000 | PageTableBuilder::kPresent | PageTableBuilder::kWritable;
  REQUIRE(overlay.write(pte, &new_entry, sizeof new_entry).ok());
  CHECK(read_string(paging, v, 6) == "page-B");
  CHECK(paging.translate(v)->physical == 0x61000);

  overlay.discard();  // back to the image's table
  CHECK(read_string(paging, v, 6) == "page-A");
}

TEST_CASE("ranges and for_each_mapping enumerate a small table") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0x400000, 0x10000, PageTableBuilder::kPresent | PageTableBuilder::kUser);
  tables.map_4k(0x401000, 0x30000, PageTableBuilder::kPresent | PageTableBuilder::kUser);  // adjacent
  tables.map_4k(0x403000, 0x11000, PageTableBuilder::kPresent | PageTableBuilder::kUser | PageTableBuilder::kNoExecute);
  tables.map_2m(0xffff888000000000, 0x0);
  tables.map_2m(0xffff888000200000, 0x200000);
  tables.map_1g(0xffffffff80000000, 0x40000000);
  // A non-present entry with address bits is skipped.
  physical.put_u64(tables.entry_address(0x405000, 1), 0x12345000);

  X86_64Paging paging(physical, tables.dtb(), 4);
  auto seen = all_ranges(paging);
  REQUIRE(seen.size() == 4);
  CHECK(seen[0] == Range{0x400000, 0x2000});
  CHECK(seen[1] == Range{0x403000, 0x1000});
  CHECK(seen[2] == Range{0xffff888000000000, 0x400000});
  CHECK(seen[3] == Range{0xffffffff80000000, 0x40000000});

  struct Mapping {
    uint64_t vaddr, physical, size;
    Translation flags;
  };
  std::vector<Mapping> mappings;
  paging.for_each_mapping([&](uint64_t vaddr, uint64_t physical_address, uint64_t size, const Translation& t) {
    mappings.push_back({vaddr, physical_address, size, t});
    return true;
  });
  REQUIRE(mappings.size() == 6);
  CHECK(mappings[1].vaddr == 0x401000);
  CHECK(mappings[1].physical == 0x30000);
  CHECK(mappings[1].flags.user);
  CHECK_FALSE(mappings[1].flags.nx);
  CHECK(mappings[2].flags.nx);
  CHECK(mappings[4].size == 0x200000);
  CHECK(mappings[5].physical == 0x40000000);

  // The visitor can stop the walk.
  int calls = 0;
  paging.ranges([&](const Range&) { return ++calls < 2; });
  CHECK(calls == 2);
}

TEST_CASE("enumeration terminates on self-referencing and aliased tables") {
  BufferSpace physical;
  PageTableBuilder tables(physical, 4, kTables);
  tables.map_4k(0x1000, 0x5000);
  // Entry 1 points back at the PML4 itself (a recursive mapping), and every
  // other entry aliases the same PDPT as entry 0: without a visited set the
  // walk would enumerate 2^36 pages.
  uint64_t first = physical.read_value<uint64_t>(tables.dtb());
  tables.set_top_entry(1, tables.dtb() | PageTableBuilder::kPresent);
  for (unsigned i = 2; i < 512; ++i) tables.set_top_entry(i, first);
  X86_64Paging paging(physical, tables.dtb(), 4);
  size_t count = 0;
  paging.for_each_mapping([&](uint64_t, uint64_t, uint64_t, const Translation&) {
    ++count;
    return true;
  });
  CHECK(count == 1);  // each table page once: only the real 4K leaf
  // Translation follows the recursive entry like the CPU does: PML4 entry 1
  // makes the tables themselves readable, here the page table page.
  uint64_t page_table = tables.entry_address(0x1000, 1) & ~0xfffull;
  auto t = paging.translate(1ull << 39);
  REQUIRE(t);
  CHECK(t->physical == page_table);
  CHECK(paging.translate(0x1000)->physical == 0x5000);
}

namespace {

// The banner read through `dtb` must equal truth.json's; the kernel's
// ranges must cover it.
void check_banner(AddressSpace& physical, uint64_t dtb, int levels) {
  const auto& truth = test::truth();
  uint64_t banner_address = parse_u64(truth["symbols"]["linux_banner"].get<std::string>(), "linux_banner");
  std::string banner = truth["linux_banner"].get<std::string>();
  INFO("image layer " << physical.name() << ", dtb " << hex(dtb));

  X86_64Paging kernel(physical, dtb, levels);
  Fault why;
  auto t = kernel.translate(banner_address, &why);
  if (!t) FAIL(why.message());
  // In memory the banner ends with a newline before its NUL; truth.json
  // has it without.
  std::string read(banner.size() + 2, 'x');
  REQUIRE(kernel.read(banner_address, read.data(), read.size()).ok());
  read.resize(std::min(read.size(), read.find('\0')));
  if (!read.empty() && read.back() == '\n') read.pop_back();
  CHECK(read == banner);

  bool banner_in_a_range = false;
  size_t count = 0;
  kernel.ranges([&](const Range& range) {
    ++count;
    if (range.contains(banner_address)) banner_in_a_range = true;
    return true;
  });
  CHECK(count > 0);
  CHECK(banner_in_a_range);
}

}  // namespace

TEST_CASE("the fixture's kernel banner through swapper_pg_dir") {
  const auto& truth = test::truth();
  uint64_t dtb = parse_u64(truth["layout"]["swapper_pg_dir_phys"].get<std::string>(), "dtb");
  int levels = truth["layout"]["paging_levels"].get<int>();

  SECTION("raw image") {
    std::unique_ptr<PhysicalLayer> image = open_image(test::fixture("image.raw"));
    check_banner(*image, dtb, levels);
  }
  SECTION("ELF core, and each CPU's CR3 from its notes") {
    std::unique_ptr<PhysicalLayer> image = open_image(test::fixture("image.elf"));
    // Taken for anything else (raw accepts any file), its physical
    // addresses would be wrong and nothing below would be checked.
    REQUIRE(image->format() == "elf");
    check_banner(*image, dtb, levels);
    // A live CR3 carries flag bits and may be any process's pgd: the
    // kernel half is the same in all of them.
    for (const CpuState& cpu : image->notes().cpus)
      if (cpu.cr3) check_banner(*image, *cpu.cr3, cpu.cr4 ? paging_levels_from_cr4(*cpu.cr4) : levels);
  }
}
