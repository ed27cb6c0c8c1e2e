// Hostile images built by the tests (support/synthetic_linux.h), for the
// kernel walkers and the plugins over them: lists with cycles and
// self-loops, a list smeared with garbage, pointers into unmapped and
// MMIO-like memory, page tables that point at themselves, 1 GiB pages past
// the end of memory, names without NUL, lengths near 2^64, ids out of the
// kernel's range, start times after the boot's present. Each test shows
// the walk bounded by what its result says (the warning naming the cycle,
// the limit, the address), the damage named, and the rest of the output
// right.
#include <catch2/catch.hpp>
#include <algorithm>
#include <cstring>
#include <random>
#include <set>

#include "core/layers/x86_64_paging.h"
#include "core/linux/tasks.h"
#include "core/util/hex.h"
#include "support/synthetic_layout.h"
#include "support/synthetic_linux.h"
#include "support/synthetic_session.h"
#include "support/table_cells.h"

using namespace memscope;
using memscope::test::SyntheticLinux;
using memscope::test::SyntheticSession;
using memscope::test::all_warnings;
using memscope::test::cell;

namespace {

bool warned(const Table& table, const std::string& text) {
  return all_warnings(table).find(text) != std::string::npos;
}

// Every row, children (pstree) included.
std::vector<const Row*> all_rows(const Table& table) {
  std::vector<const Row*> out;
  std::vector<const Row*> todo;
  for (const Row& row : table.rows) todo.push_back(&row);
  while (!todo.empty()) {
    const Row* row = todo.back();
    todo.pop_back();
    out.push_back(row);
    for (const Row& child : row->children) todo.push_back(&child);
  }
  return out;
}

// The PIDs of the rows whose `valid` is true, and of those whose it is false.
std::multiset<int64_t> pids(const Table& table, bool valid = true) {
  std::multiset<int64_t> out;
  for (const Row* row : all_rows(table)) {
    if (cell<bool>(table, *row, "valid").value_or(true) != valid) continue;
    if (auto pid = cell<int64_t>(table, *row, "pid")) out.insert(*pid);
  }
  return out;
}

std::multiset<int64_t> listed_pids(const SyntheticLinux& kernel) {
  std::multiset<int64_t> out;
  for (const auto& p : kernel.processes())
    if (!p.hidden) out.insert(p.pid);
  return out;
}

// A physical page no part of the synthetic image uses, inside the direct
// map (support/synthetic_linux.cpp: the pools end at 0x5800000).
constexpr uint64_t kSparePhysical = 0x5900000;

uint64_t read_u64(test::BufferSpace& space, uint64_t physical) { return space.read_value<uint64_t>(physical); }

// The physical address of the page-table entry that maps `vaddr` at
// `level` (4: PML4 ... 1: PT), walking the kernel's tables.
uint64_t entry_address(SyntheticLinux& kernel, uint64_t vaddr, int level) {
  uint64_t table = kernel.dtb() & ~0xfffull;
  for (int l = 4;; --l) {
    const uint64_t index = (vaddr >> (12 + 9 * (l - 1))) & 0x1ff;
    const uint64_t entry = table + index * 8;
    if (l == level) return entry;
    const uint64_t value = read_u64(kernel.space(), entry);
    REQUIRE((value & 1) != 0);
    REQUIRE((value & 0x80) == 0);  // not a huge page above the level asked
    table = value & 0x000ffffffffff000ull;
  }
}

}  // namespace

TEST_CASE("hostile: a task list smeared with garbage / the garbage rows marked invalid and the real ones recovered") {
  SyntheticLinux kernel;
  // Two pages of random bytes in memory; task 201's next leads into the
  // first, whose next leads into the second, whose next is random.
  const uint64_t tasks_offset = kernel.offset_of("task_struct", "tasks");
  const uint64_t next_offset = kernel.offset_of("task_struct", "tasks.next");  // prev comes first here
  const uint64_t task_size = kernel.size_of("task_struct");
  const uint64_t garbage = kernel.options().page_offset_base + kSparePhysical;
  std::mt19937_64 rng(14);
  std::vector<uint8_t> noise(2 * task_size + 0x2000);
  for (auto& byte : noise) byte = static_cast<uint8_t>(rng());
  kernel.poke_kernel(garbage, noise.data(), noise.size());
  const uint64_t first = garbage, second = garbage + task_size + 0x1000;
  kernel.poke_kernel_u64(first + next_offset, second + tasks_offset);
  kernel.set_task_pointer(201, "tasks.next", first + tasks_offset);

  for (const char* plugin : {"linux.pslist", "linux.psaux", "linux.pstree"}) {
    SECTION(plugin) {
      SyntheticSession s(kernel);
      Table table = s.run(plugin).table;
      INFO(all_warnings(table));
      // Every real process, marked valid; the two rows read from garbage
      // are there, marked invalid, with a warning naming them.
      CHECK(pids(table, true) == listed_pids(kernel));
      size_t invalid = 0;
      for (const Row* row : all_rows(table))
        if (!cell<bool>(table, *row, "valid").value_or(true)) ++invalid;
      CHECK(invalid == 2);
      CHECK(warned(table, "not a plausible task"));
      CHECK(warned(table, "valid=false"));
      CHECK(warned(table, hex_address(first)));
      // The real entries after the garbage: recovered walking backward.
      CHECK(warned(table, "recovered"));
    }
  }
}

TEST_CASE("hostile: a task whose next points at itself / the walk stops and recovers the rest") {
  SyntheticLinux kernel;
  kernel.link_tasks_cycle(202, 202);
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist").table;
  INFO(all_warnings(table));
  CHECK(warned(table, "cycle"));
  CHECK(pids(table) == listed_pids(kernel));
  CHECK(pids(table, false).empty());
}

TEST_CASE("hostile: module lists with a self-loop and a cycle / every module once") {
  SyntheticLinux kernel;
  const uint64_t list = kernel.offset_of("module", "list");
  std::vector<std::string> listed;
  for (const auto& m : kernel.modules())
    if (!m.hidden) listed.push_back(m.name);
  REQUIRE(listed.size() >= 2);
  SECTION("self-loop") {
    kernel.poke_kernel_u64(kernel.module_address(listed[0]) + list + kernel.offset_of("list_head", "next"),
                           kernel.module_address(listed[0]) + list);
  }
  SECTION("cycle back to the first") {
    kernel.poke_kernel_u64(kernel.module_address(listed.back()) + list + kernel.offset_of("list_head", "next"),
                           kernel.module_address(listed[0]) + list);
  }
  SyntheticSession s(kernel);
  Table table = s.run("linux.lsmod").table;
  INFO(all_warnings(table));
  CHECK(warned(table, "cycle"));
  std::multiset<std::string> names, expected(listed.begin(), listed.end());
  for (const Row& row : table.rows) names.insert(cell<std::string>(table, row, "name").value_or("?"));
  CHECK(names == expected);
}

TEST_CASE("hostile: a pointer into MMIO-like memory fails naming the address / the rest of the row and table stay") {
  SyntheticLinux kernel;
  // The direct map's 2 MiB page over the spare memory now maps physical
  // 0xfec00000 (where an IOAPIC sits): translatable, not in the image.
  const uint64_t vaddr = kernel.options().page_offset_base + kSparePhysical;
  const uint64_t pde = entry_address(kernel, vaddr, 2);
  const uint64_t old = read_u64(kernel.space(), pde);
  REQUIRE((old & 0x80) != 0);
  uint64_t mmio = 0xfec00000ull | (old & 0xfff);
  kernel.space().put_u64(pde, mmio);
  const uint64_t pointer = (vaddr & ~0x1fffffull) + 0x100;
  kernel.set_task_pointer(205, "cred", pointer);
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist").table;
  INFO(all_warnings(table));
  CHECK(pids(table) == listed_pids(kernel));
  CHECK(warned(table, "pid 205"));
  CHECK(warned(table, "mapped to physical 0xfec001"));  // where the read failed
  for (const Row& row : table.rows)
    if (cell<int64_t>(table, row, "pid") == 205) {
      CHECK_FALSE(cell<uint64_t>(table, row, "uid"));
      CHECK(cell<std::string>(table, row, "comm") == "python3");
    }
}

TEST_CASE("hostile: page tables that point at themselves and 1 GiB pages past the end / walks bounded, reads fail "
          "naming the address") {
  SyntheticLinux kernel;
  const uint64_t dtb = kernel.dtb() & ~0xfffull;
  // An unused PML4 slot pointing at the PML4 itself (a recursive entry),
  // another at a fresh PDPT whose first entry is a 1 GiB page at 64 GiB.
  kernel.space().put_u64(dtb + 0x101 * 8, dtb | 0x3);
  kernel.space().map(kSparePhysical, 0x1000);
  kernel.space().put_u64(dtb + 0x102 * 8, kSparePhysical | 0x3);
  kernel.space().put_u64(kSparePhysical, 0x1000000000ull | 0x83);
  const uint64_t huge = 0xffff810000000000ull;  // PML4 index 0x102
  X86_64Paging space(kernel.space(), kernel.dtb(), 4);
  // Every table page is visited once: the walk ends, and the recursive
  // slot shows the tables as memory (512 GiB of them at most).
  uint64_t ranges = 0, bytes = 0;
  space.ranges([&](const Range& r) {
    ++ranges;
    bytes += r.size;
    return true;
  });
  CHECK(ranges > 0);
  uint8_t byte = 0;
  IoResult r = space.read(huge + 0x1234, &byte, 1);
  REQUIRE_FALSE(r.ok());
  CHECK_THAT(r.fault->message(), Catch::Contains("0x1000001234"));
  auto t = space.translate(huge + 0x1234);
  REQUIRE(t);
  CHECK(t->physical == 0x1000001234ull);
  CHECK(t->page_size == 1ull << 30);
  // The plugins do not mind.
  SyntheticSession s(kernel);
  Table table = s.run("linux.pslist").table;
  CHECK(pids(table) == listed_pids(kernel));
  CHECK(table.warnings.empty());
}

TEST_CASE("hostile: comms without NUL or with binary bytes and ids out of range / those tasks marked invalid") {
  SyntheticLinux kernel;
  const uint64_t comm = kernel.offset_of("task_struct", "comm");
  const char no_nul[16] = {'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A', 'A'};
  kernel.poke_kernel(kernel.task_address(205) + comm, no_nul, sizeof no_nul);
  const char binary[16] = {'\x1b', '\x7f', '\x01', 'x', '\xff', '\xfe', 0};
  kernel.poke_kernel(kernel.task_address(206) + comm, binary, sizeof binary);
  const uint32_t huge_pid = 2090996697u;
  kernel.poke_kernel(kernel.task_address(208) + kernel.offset_of("task_struct", "tgid"), &huge_pid, 4);
  const int32_t negative = -5;
  kernel.poke_kernel(kernel.task_address(1) + kernel.offset_of("task_struct", "pid"), &negative, 4);
  SyntheticSession s(kernel);
  for (const char* plugin : {"linux.pslist", "linux.psaux", "linux.psscan", "linux.envars"}) {
    INFO(plugin);
    PluginArgs args;
    if (std::string(plugin) == "linux.psscan") args.set_flag("no-carve");
    Table table = s.run(plugin, args).table;
    INFO(all_warnings(table));
    std::set<int64_t> invalid;
    for (const Row& row : table.rows)
      if (!cell<bool>(table, row, "valid").value_or(true)) invalid.insert(cell<int64_t>(table, row, "pid").value_or(-1));
    if (std::string(plugin) == "linux.envars") {
      CHECK(invalid.count(205));
      continue;
    }
    CHECK(invalid == std::set<int64_t>{1, 205, 206, 2090996697});
    CHECK(warned(table, "no NUL within its 16 bytes"));
    CHECK(warned(table, "\\x1b\\x7f\\x01x\\xff\\xfe"));
    CHECK(warned(table, "2090996697 is outside 0..4194304"));
    CHECK(warned(table, "tid -5"));
  }
}

TEST_CASE("hostile: a start time after the boot clock's present marks the task invalid / the clock read from "
          "tk_core") {
  SyntheticLinux kernel;
  // tk_core { seqcount; struct timekeeper timekeeper } in a free spot of the
  // kernel image, with the types the profile needs to find the clock.
  const uint64_t tk_core_link = SyntheticLinux::kLinkText + 0x5f0000;
  const uint64_t boot_now = 5'000'000'000'000ull;  // 5000 s of uptime
  const uint64_t base = boot_now - 1'000'000'000ull, offs_boot = 1'000'000'000ull;
  kernel.poke_kernel(tk_core_link + kernel.options().virtual_shift + 8 + 0x20, &base, 8);
  kernel.poke_kernel(tk_core_link + kernel.options().virtual_shift + 8 + 0x70, &offs_boot, 8);
  const uint64_t future = boot_now + 3600'000'000'000ull;
  uint64_t start = kernel.offset_of("task_struct", "start_boottime");
  kernel.poke_kernel(kernel.task_address(206) + start, &future, 8);
  auto add_clock = [&](nlohmann::json& profile) {
    using namespace test::synthetic;
    profile["user_types"]["seqcount_raw_spinlock_t"] = {{"kind", "struct"}, {"size", 4}, {"fields", {
        {"sequence", {{"offset", 0}, {"type", base_t("unsigned int")}}}}}};
    profile["user_types"]["tk_read_base"] = {{"kind", "struct"}, {"size", 0x38}, {"fields", {
        {"mask", {{"offset", 0x8}, {"type", base_t("long long unsigned int")}}},
        {"base", {{"offset", 0x20}, {"type", base_t("long long int")}}}}}};
    profile["user_types"]["timekeeper"] = {{"kind", "struct"}, {"size", 0x100}, {"fields", {
        {"tkr_mono", {{"offset", 0}, {"type", struct_t("tk_read_base")}}},
        {"offs_boot", {{"offset", 0x70}, {"type", base_t("long long int")}}}}}};
    profile["symbols"]["tk_core"] = {{"address", tk_core_link}};
  };
  SyntheticSession s(kernel, "lime", add_clock);
  REQUIRE(linux_kernel::TaskReader(s.view()).boot_time_now() == boot_now);
  Table table = s.run("linux.pslist").table;
  INFO(all_warnings(table));
  std::set<int64_t> invalid;
  for (const Row& row : table.rows)
    if (!cell<bool>(table, row, "valid").value_or(true)) invalid.insert(cell<int64_t>(table, row, "pid").value_or(-1));
  CHECK(invalid == std::set<int64_t>{206});
  CHECK(warned(table, "after the boot clock's present"));
  CHECK(pids(table, true).size() + 1 == listed_pids(kernel).size());
}

TEST_CASE("hostile: lengths near 2^64 / argument blocks bounded by the kernel's limit and named in the warning") {
  SyntheticLinux kernel;
  kernel.set_arg_end(201, ~uint64_t{0});
  SyntheticSession s(kernel);
  Table table = s.run("linux.psaux").table;
  INFO(all_warnings(table));
  // Bounded by the kernel's own limit (the warning names it), not 2^64.
  CHECK(warned(table, "exceed the 6 MiB the kernel allows"));
  CHECK(pids(table) == listed_pids(kernel));
}
