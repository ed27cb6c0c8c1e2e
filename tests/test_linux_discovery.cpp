// Kernel discovery: synthetic kernels (page tables, banner, init_task,
// VMCOREINFO placed at chosen shifts in a sparse physical space) and the
// real fixture images in every format, with and without notes and profiles.
#include <fcntl.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/linux/discovery/vmcoreinfo.h"
#include "core/types/profile.h"
#include "core/layers/x86_64_paging.h"
#include "core/layers/format_registry.h"
#include "core/session/session.h"
#include "memscope/kvm.h"
#include "profiles/btf/isf_from_btf.h"
#include "profiles/isf/isf_loader.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::BufferSpace;

namespace {

// --- A synthetic kernel -------------------------------------------------
//
// Link-time layout (what the profile says), all inside the kernel image
// map. Physical = link - __START_KERNEL_map + physical shift; run-time
// virtual = link + virtual shift.
constexpr uint64_t kMap = kStartKernelMap;
constexpr uint64_t kText = kMap + 0x1000000;
constexpr uint64_t kBanner = kMap + 0x1200100;
constexpr uint64_t kTopPgt = kMap + 0x1400000;
constexpr uint64_t kInitTask = kMap + 0x1410040;
constexpr uint64_t kInitFiles = kMap + 0x1420080;
constexpr uint64_t kInitFs = kMap + 0x1421100;
constexpr uint64_t kInitUts = kMap + 0x1430000;
constexpr uint64_t kImageSize = 0x600000;  // mapped from kText
constexpr uint64_t kCommOffset = 0x5c0, kFilesOffset = 0x5f0, kFsOffset = 0x5e8;
const std::string kRelease = "6.9.0-synthetic";
const std::string kBannerText = "Linux version " + kRelease + " (tester@example) (gcc 12) #1 SMP PREEMPT";

struct Synthetic {
  uint64_t physical_shift = 0x3000000;
  uint64_t virtual_shift = 0x1e00000;
  int levels = 4;
  bool page_tables = true;
  bool banner = true;
  bool init_task = true;
  uint64_t phys(uint64_t link) const { return link - kMap + physical_shift; }
  uint64_t dtb() const { return phys(kTopPgt); }
  uint64_t phys_base() const { return physical_shift - virtual_shift; }
};

struct ProfileParts {
  bool banner_symbol = true;
  bool top_pgt = true;
  bool task_type = true;
  std::string banner = kBannerText;
};

std::shared_ptr<const Profile> synthetic_profile(const ProfileParts& parts = {}) {
  ProfileBuilder b("synthetic-profile");
  b.metadata().banner = parts.banner;
  b.metadata().os = "linux";
  TypeRef chr = b.named(TypeKind::kBase, "char");
  b.define_base(chr, 1, BaseKind::kChar, true);
  if (parts.task_type) {
    TypeRef task = b.named(TypeKind::kStruct, "task_struct");
    b.define_record(task, TypeKind::kStruct, 0x1000);
    b.add_member(task, "comm", kCommOffset, b.array_of(chr, 16), false);
    TypeRef files = b.named(TypeKind::kStruct, "files_struct");
    TypeRef fs = b.named(TypeKind::kStruct, "fs_struct");
    b.add_member(task, "files", kFilesOffset, b.pointer_to(files), false);
    b.add_member(task, "fs", kFsOffset, b.pointer_to(fs), false);
  }
  if (parts.banner_symbol) b.add_symbol("linux_banner", kBanner);
  if (parts.top_pgt) b.add_symbol("init_top_pgt", kTopPgt);
  b.add_symbol("init_task", kInitTask);
  b.add_symbol("init_files", kInitFiles);
  b.add_symbol("init_fs", kInitFs);
  b.add_symbol("_text", kText);
  return b.finish();
}

// Maps [kText + vshift, + kImageSize) to phys(kText) with 2 MiB pages,
// tables in the kernel image's pages right after init_top_pgt.
void build_page_tables(BufferSpace& space, const Synthetic& k) {
  uint64_t top = k.dtb();
  space.map(top, 0x4000);
  uint64_t next_table = top + 0x1000;
  auto entry_for = [&](uint64_t table, unsigned shift, uint64_t vaddr) -> uint64_t {
    uint64_t slot = table + ((vaddr >> shift) & 511) * 8;
    uint64_t entry = 0;
    space.read(slot, &entry, 8);
    if (!(entry & 1)) {
      entry = next_table | 0x63;
      next_table += 0x1000;
      space.put_u64(slot, entry);
    }
    return entry & 0x000ffffffffff000ull;
  };
  for (uint64_t offset = 0; offset < kImageSize; offset += 0x200000) {
    uint64_t vaddr = kText + k.virtual_shift + offset;
    uint64_t table = top;
    for (int level = k.levels; level > 2; --level) table = entry_for(table, 12 + 9 * (level - 1), vaddr);
    space.put_u64(table + ((vaddr >> 21) & 511) * 8, (k.phys(kText) + offset) | 0xe3);  // present, rw, PS, A, D
  }
}

std::string vmcoreinfo_text(const Synthetic& k, bool with_phys_base = true) {
  std::string text = "OSRELEASE=" + kRelease + "\nPAGESIZE=4096\n";
  auto sym = [&](const char* name, uint64_t link) {
    char line[128];
    std::snprintf(line, sizeof line, "SYMBOL(%s)=%llx\n", name,
                  static_cast<unsigned long long>(link + k.virtual_shift));
    text += line;
  };
  sym("init_uts_ns", kInitUts);
  text += "OFFSET(uts_namespace.name)=0\n";
  sym("_stext", kText);
  sym("init_top_pgt", kTopPgt);
  if (with_phys_base) text += "NUMBER(phys_base)=" + std::to_string(static_cast<int64_t>(k.phys_base())) + "\n";
  text += "NUMBER(pgtable_l5_enabled)=" + std::string(k.levels == 5 ? "1" : "0") + "\n";
  char line[64];
  std::snprintf(line, sizeof line, "KERNELOFFSET=%llx\n", static_cast<unsigned long long>(k.virtual_shift));
  return text + line;
}

// Low RAM with some text, the kernel image's data, page tables.
void build_kernel(BufferSpace& space, const Synthetic& k) {
  space.map(0, 0x200000);
  space.put_string(0x1234, "some unrelated text: Linux versio");
  space.map(k.phys(kText), 0x10000);
  if (k.banner) space.put_string(k.phys(kBanner), kBannerText + "\n");
  if (k.init_task) {
    space.put_string(k.phys(kInitTask) + kCommOffset, "swapper/0");
    space.put_u64(k.phys(kInitTask) + kFilesOffset, kInitFiles + k.virtual_shift);
    space.put_u64(k.phys(kInitTask) + kFsOffset, kInitFs + k.virtual_shift);
  }
  space.put_string(k.phys(kInitUts), "Linux");
  space.put_string(k.phys(kInitUts) + 130, kRelease);
  if (k.page_tables) build_page_tables(space, k);
}

void check_found(const LinuxKernelInfo& info, const Synthetic& k) {
  CHECK(hex(info.virtual_shift) == hex(k.virtual_shift));
  CHECK(hex(info.physical_shift) == hex(k.physical_shift));
  CHECK(hex(info.dtb) == hex(k.dtb()));
  CHECK(info.paging_levels == k.levels);
}

DiscoveryOptions small_options() {
  DiscoveryOptions options;
  options.threads = 2;
  return options;
}

}  // namespace

// --- VMCOREINFO parsing ---------------------------------------------------

TEST_CASE("VMCOREINFO text is parsed with the kernel's number formats") {
  VmcoreInfo v = parse_vmcoreinfo(
      "OSRELEASE=6.1.0-56-amd64\nPAGESIZE=4096\nSYMBOL(init_top_pgt)=ffffffffae010000\n"
      "NUMBER(phys_base)=-727711744\nNUMBER(pgtable_l5_enabled)=0\nOFFSET(uts_namespace.name)=0\n"
      "SIZE(page)=64\nLENGTH(zone.free_area)=11\nKERNELOFFSET=2b600000\nNUMBER(kimage_voffset)=0xffff\n"
      "CRASHTIME=1700000000\nSYMBOL(bad)=zz\nnot a line\n\0SYMBOL(after_nul)=1\n",
      "test");
  CHECK(v.os_release == "6.1.0-56-amd64");
  CHECK(v.page_size == 4096u);
  CHECK(v.symbol("init_top_pgt") == 0xffffffffae010000ull);
  CHECK(v.top_page_table() == 0xffffffffae010000ull);
  REQUIRE(v.phys_base);
  CHECK(*v.phys_base == 0xffffffffd4a00000ull);  // two's complement of -727711744
  CHECK(v.kernel_offset == 0x2b600000u);
  CHECK(v.pgtable_l5_enabled == false);
  CHECK(v.offset("uts_namespace.name") == 0u);
  CHECK(v.sizes.at("page") == 64u);
  CHECK(v.lengths.at("zone.free_area") == 11u);
  CHECK(v.numbers.at("kimage_voffset") == 0xffff);
  CHECK(v.other.at("CRASHTIME") == "1700000000");
  CHECK(v.malformed_lines == 2);
  CHECK_FALSE(v.symbol("bad"));
  CHECK_FALSE(v.symbol("after_nul"));
  CHECK(v.plausible());
}

TEST_CASE("the OSRELEASE=%s format string and fragments are not plausible VMCOREINFO") {
  BufferSpace space;
  space.put_string(0x1000, "OSRELEASE=%s\nPAGESIZE=%ld\n");
  space.put_string(0x2000, "OSRELEASE=6.1.0\n");  // no page-table root
  space.put_string(0x3000, std::string("OSRELEASE=6.1\nSYMBOL(swapper_pg_dir)=ffffffff82000000\n"));
  CHECK_FALSE(read_vmcoreinfo_at(space, 0x1000));
  CHECK_FALSE(read_vmcoreinfo_at(space, 0x2000));
  auto ok = read_vmcoreinfo_at(space, 0x3000);
  REQUIRE(ok);
  CHECK(ok->top_page_table() == 0xffffffff82000000ull);
  CHECK(ok->source == "physical memory at 0x3000");
}

TEST_CASE("a VMCOREINFO text is capped and stops at an unmapped page") {
  BufferSpace space;
  std::string huge = "OSRELEASE=1\nSYMBOL(init_top_pgt)=ffffffff81000000\n" + std::string(40000, 'A');
  space.put(0x10000, huge.data(), huge.size());  // no NUL within the cap
  auto v = read_vmcoreinfo_at(space, 0x10000);
  REQUIRE(v);
  CHECK(v->text.size() == kMaxVmcoreinfoBytes);
  space.put_string(0x40000 - 20, "OSRELEASE=2\nSYMBOL(");  // runs into a hole
  CHECK_FALSE(read_vmcoreinfo_at(space, 0x40000 - 20));
}

// --- Synthetic kernels: with a profile --------------------------------------

TEST_CASE("synthetic: a profile and a banner give the shifts / DTB and banner") {
  auto profile = synthetic_profile();
  for (auto [pshift, vshift, levels] : {std::tuple<uint64_t, uint64_t, int>{0x3000000, 0x1e00000, 4},
                                        {0, 0, 4},
                                        {0x200000, 0x3ee00000, 4},
                                        {0x7000000, 0x400000, 5}}) {
    Synthetic k;
    k.physical_shift = pshift;
    k.virtual_shift = vshift;
    k.levels = levels;
    BufferSpace space;
    build_kernel(space, k);
    INFO("pshift " << hex(pshift) << " vshift " << hex(vshift) << " levels " << levels);
    LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
    check_found(info, k);
    CHECK(info.banner == kBannerText);
    CHECK(info.os_release == kRelease);
    // The kernel is loaded 2 MiB-aligned: the probe of linux_banner's
    // possible places finds it without scanning.
    CHECK(info.method == "banner probe");
    CHECK(info.banner_address == kBanner + vshift);
    CHECK(info.banner_physical == k.phys(kBanner));
    REQUIRE(info.banners_found.size() == 1);
    CHECK(info.banners_found[0] == kBannerText);
  }
}

TEST_CASE("synthetic: the profile's kernel is readable through the discovered layer") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  auto profile = synthetic_profile();
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  X86_64Paging kernel(space, info.dtb, info.paging_levels);
  char comm[16] = {};
  kernel.read_exact(*profile->symbol("init_task") + info.virtual_shift + kCommOffset, comm, sizeof comm);
  CHECK(std::string(comm) == "swapper/0");
}

TEST_CASE("synthetic: without linux_banner in the profile / swapper/0 at init_task.comm finds the kernel") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ProfileParts parts;
  parts.banner_symbol = false;
  auto profile = synthetic_profile(parts);
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  check_found(info, k);
  CHECK(info.method == "init_task scan");
  CHECK_THAT(info.method_detail, Catch::Contains("init_task.comm"));
}

TEST_CASE("synthetic: a profile without task_struct still works (virtual shift from the page table)") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ProfileParts parts;
  parts.task_type = false;
  auto profile = synthetic_profile(parts);
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  check_found(info, k);
  CHECK_THAT(info.method_detail, Catch::Contains("self-map"));
}

TEST_CASE("synthetic: init_task pointers that lie about the virtual shift are outvoted by the page table") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  space.put_u64(k.phys(kInitTask) + kFilesOffset, kInitFiles + k.virtual_shift + 0x400000);
  space.put_u64(k.phys(kInitTask) + kFsOffset, kInitFs + k.virtual_shift + 0x400000);
  auto profile = synthetic_profile();
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  check_found(info, k);
  CHECK_THAT(info.method_detail, Catch::Contains("self-map"));
}

TEST_CASE("synthetic: a profile without a page-table root symbol cannot locate / and says so") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ProfileParts parts;
  parts.top_pgt = false;
  auto profile = synthetic_profile(parts);
  try {
    discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("no Linux kernel found in <memory>"));
    CHECK_THAT(e.what(), Catch::Contains("lacks"));
    CHECK_THAT(e.what(), Catch::Contains(kBannerText));  // the banner seen is reported
  }
}

TEST_CASE("synthetic: two banners / the fake one first at the right page offset / the real one wins") {
  // Same page offset as linux_banner, below it: a candidate physical shift
  // with nothing behind it. 1 MiB below, only the scan sees it; 2 MiB
  // below, the probe tries it first.
  for (uint64_t below : {0x100000, 0x200000}) {
    INFO("fake banner " << hex(below) << " below the real one");
    Synthetic k;
    BufferSpace space;
    build_kernel(space, k);
    std::string fake = "Linux version 9.9.9-evil (mallory) #666";
    space.put_string(k.phys(kBanner) - below, fake);
    auto profile = synthetic_profile();
    DiscoveryOptions options = small_options();
    options.list_all_banners = true;
    LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, profile.get(), options);
    check_found(info, k);
    CHECK(info.banner == kBannerText);
    CHECK(info.method == "banner probe");
    REQUIRE(info.banners_found.size() == 2);
    CHECK(info.banners_found[0] == fake);
    CHECK(info.banners_found[1] == kBannerText);
  }
}

TEST_CASE("synthetic: a banner with no page tables behind it is not a kernel") {
  Synthetic k;
  k.page_tables = false;
  BufferSpace space;
  build_kernel(space, k);
  auto profile = synthetic_profile();
  try {
    discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    std::string message = e.what();
    CHECK_THAT(message, Catch::Contains("no Linux kernel found"));
    CHECK_THAT(message, Catch::Contains("banner at physical " + hex(k.phys(kBanner))));
    CHECK_THAT(message, Catch::Contains("swapper/0"));
  }
}

TEST_CASE("synthetic: a profile for another build is refused with the reason") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ProfileParts parts;
  parts.banner = "Linux version 6.9.0-other (x) #2";
  auto profile = synthetic_profile(parts);
  try {
    discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("differs from the profile's"));
  }
}

TEST_CASE("synthetic: no kernel at all gives a clear message") {
  BufferSpace space;
  space.map(0, 0x400000);
  space.put_string(0x5000, "Linux version %s (%s@%s) (%s) %s");  // a format string, not a banner
  space.put_string(0x9000, "OSRELEASE=%s\n");
  try {
    discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    std::string message = e.what();
    CHECK_THAT(message, Catch::StartsWith("no Linux kernel found in <memory>: tried "));
    CHECK_THAT(message, Catch::Contains("VMCOREINFO note: absent"));
    CHECK_THAT(message, Catch::Contains("VMCOREINFO in memory: none found"));
    CHECK_THAT(message, Catch::Contains("4 MiB scanned"));
    CHECK_THAT(message, Catch::Contains("no CR3"));
  }
  BufferSpace empty;
  CHECK_THROWS_WITH(discover_linux_kernel(empty, ImageNotes{}, nullptr), Catch::Contains("no Linux kernel found"));
}

// --- Synthetic kernels: VMCOREINFO, no profile --------------------------------

TEST_CASE("synthetic: VMCOREINFO in RAM locates the kernel without a profile") {
  for (int levels : {4, 5}) {
    Synthetic k;
    k.levels = levels;
    BufferSpace space;
    build_kernel(space, k);
    space.put_string(0x100000, vmcoreinfo_text(k));
    LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
    check_found(info, k);
    CHECK(info.method == "vmcoreinfo in memory");
    CHECK(info.os_release == kRelease);
    // Found by searching the kernel image's pages for this release's banner.
    CHECK(info.banner == kBannerText);
    CHECK(info.banner_physical == k.phys(kBanner));
    REQUIRE(info.vmcoreinfo);
    CHECK(info.vmcoreinfo->source == "physical memory at 0x100000");
  }
}

TEST_CASE("synthetic: VMCOREINFO without phys_base: from a CPU's CR3 / else a self-map search") {
  Synthetic k;
  k.physical_shift = 0x5000000;
  BufferSpace space;
  build_kernel(space, k);
  space.put_string(0x100000, vmcoreinfo_text(k, false));
  LinuxKernelInfo searched = discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
  check_found(searched, k);
  CHECK_THAT(searched.method_detail, Catch::Contains("self-map search"));

  ImageNotes notes;
  notes.cpus.push_back(CpuState{0, std::nullopt, k.dtb() | 0x801, std::nullopt});  // PCID bits set
  LinuxKernelInfo via_cr3 = discover_linux_kernel(space, notes, nullptr, small_options());
  check_found(via_cr3, k);
  CHECK_THAT(via_cr3.method_detail, Catch::Contains("CR3 of CPU 0"));
}

TEST_CASE("synthetic: the VMCOREINFO note is used first / and without scanning") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ImageNotes notes;
  notes.set_vmcoreinfo(vmcoreinfo_text(k));
  DiscoveryOptions options = small_options();
  options.scan_memory = false;
  LinuxKernelInfo info = discover_linux_kernel(space, notes, nullptr, options);
  check_found(info, k);
  CHECK(info.method == "vmcoreinfo note");
  // Notes can be switched off: then there is nothing left to go on.
  options.use_notes = false;
  CHECK_THROWS_WITH(discover_linux_kernel(space, notes, nullptr, options),
                    Catch::Contains("VMCOREINFO note: not used"));
}

TEST_CASE("synthetic: lying VMCOREINFO texts are rejected / the true one is used") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  Synthetic liar = k;
  liar.physical_shift += 0x200000;  // phys_base off by 2 MiB
  space.put_string(0x80000, vmcoreinfo_text(liar));
  Synthetic wrong_release = k;
  std::string text = vmcoreinfo_text(wrong_release);
  text.replace(text.find(kRelease), kRelease.size(), "6.9.1-lies");
  space.put_string(0x90000, text);
  space.put_string(0x100000, vmcoreinfo_text(k));
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
  check_found(info, k);
  CHECK(info.vmcoreinfo->source == "physical memory at 0x100000");
}

TEST_CASE("synthetic: the profile must agree with VMCOREINFO") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ImageNotes notes;
  notes.set_vmcoreinfo(vmcoreinfo_text(k));
  auto profile = synthetic_profile();
  DiscoveryOptions options = small_options();
  options.scan_memory = false;
  LinuxKernelInfo info = discover_linux_kernel(space, notes, profile.get(), options);
  check_found(info, k);
  CHECK(info.banner == kBannerText);  // read at the profile's linux_banner
  CHECK(info.banner_address == kBanner + k.virtual_shift);
  ProfileParts parts;
  parts.banner = "Linux version 1.0 (someone else)";
  auto other = synthetic_profile(parts);
  CHECK_THROWS_WITH(discover_linux_kernel(space, notes, other.get(), options),
                    Catch::Contains("differs from the profile's"));
}

// --- Discovery once: a kernel found without a profile, confirmed with one ----

TEST_CASE("synthetic: a kernel found without a profile is confirmed with the profile / or refused") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  space.put_string(0x100000, vmcoreinfo_text(k));
  LinuxKernelInfo found = discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
  auto profile = synthetic_profile();
  std::optional<LinuxKernelInfo> confirmed = confirm_linux_kernel(space, found, *profile, small_options());
  REQUIRE(confirmed);
  check_found(*confirmed, k);
  CHECK(confirmed->method == "vmcoreinfo in memory");  // how it was found, still
  CHECK_THAT(confirmed->method_detail, Catch::Contains("confirmed with the profile"));
  CHECK(confirmed->banner == kBannerText);
  CHECK(confirmed->banner_address == kBanner + k.virtual_shift);  // read at the profile's linux_banner
  // The same answer as discovery with the profile (by whatever evidence).
  LinuxKernelInfo direct = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  CHECK(hex(direct.dtb) == hex(confirmed->dtb));
  CHECK(hex(direct.virtual_shift) == hex(confirmed->virtual_shift));
  CHECK(hex(direct.physical_shift) == hex(confirmed->physical_shift));

  ProfileParts other_banner;
  other_banner.banner = "Linux version 1.0 (someone else)";
  CHECK_FALSE(confirm_linux_kernel(space, found, *synthetic_profile(other_banner), small_options()));
  // A profile whose page-table root VMCOREINFO contradicts.
  ProfileBuilder b("another build");
  b.metadata().banner = kBannerText;
  b.add_symbol("init_top_pgt", kTopPgt + 0x1000);
  b.add_symbol("linux_banner", kBanner);
  CHECK_FALSE(confirm_linux_kernel(space, found, *b.finish(), small_options()));
}

TEST_CASE("synthetic: a kernel found from notes without VMCOREINFO is confirmed by the profile's symbols") {
  // Found with one profile by a banner scan, then checked with another
  // profile of the same build: no VMCOREINFO to compare, the shifts are
  // validated through the page tables.
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  auto profile = synthetic_profile();
  LinuxKernelInfo found = discover_linux_kernel(space, ImageNotes{}, profile.get(), small_options());
  REQUIRE_FALSE(found.vmcoreinfo);
  std::optional<LinuxKernelInfo> confirmed = confirm_linux_kernel(space, found, *profile, small_options());
  REQUIRE(confirmed);
  check_found(*confirmed, k);
  CHECK(confirmed->method == found.method);
  Synthetic elsewhere = k;
  elsewhere.virtual_shift += 0x200000;
  found.virtual_shift = elsewhere.virtual_shift;  // a stale answer: linux_banner does not read back
  CHECK_FALSE(confirm_linux_kernel(space, found, *profile, small_options()));
}

namespace {

// A synthetic image and its profile in a symbols folder, opened in a
// Session either way a user can: -s folder or -p file.
struct SessionOnDisk {
  memscope::test::TempDir dir{"discovery-session"};
  std::string image, profile, symbols;
  SessionOnDisk(memscope::test::SyntheticLinux& kernel, const std::string& format,
                const std::function<void(nlohmann::json&)>& edit_profile = {}) {
    image = dir.file("image." + format);
    if (format == "elf")
      kernel.write_elf(image);
    else
      kernel.write_raw(image);
    symbols = dir.file("symbols");
    std::filesystem::create_directories(symbols);
    profile = symbols + "/kernel.json";
    nlohmann::json isf = kernel.profile_json();
    if (edit_profile) edit_profile(isf);
    std::ofstream(profile) << isf.dump();
  }
  SessionOptions options(bool with_p) const {
    SessionOptions o;
    o.image = image;
    o.use_profile_cache = false;
    if (with_p)
      o.profile = profile;
    else
      o.symbol_dirs = {symbols};
    return o;
  }
};

}  // namespace

TEST_CASE("session: discovery runs once / with -s (the banner's discovery is confirmed) and with -p") {
  memscope::test::SyntheticLinux kernel;
  SessionOnDisk disk(kernel, "elf");
  for (bool with_p : {false, true}) {
    INFO((with_p ? "-p" : "-s"));
    Session session(disk.options(with_p));
    CHECK(session.discovery_runs() == 0);
    const LinuxKernelInfo& info = session.kernel();
    CHECK(session.has_profile());
    CHECK(session.discovery_runs() == 1);
    CHECK(hex(info.dtb) == hex(kernel.dtb()));
    CHECK(hex(info.virtual_shift) == hex(kernel.options().virtual_shift));
    CHECK(info.method == "vmcoreinfo note");
    CHECK(info.banner == kernel.banner());
    CHECK(info.banner_address == kernel.symbol_address("linux_banner"));
    if (!with_p) CHECK_THAT(info.method_detail, Catch::Contains("confirmed with the profile"));
    // Everything after that uses the same answer.
    CHECK(session.symbol_address("init_task") == kernel.symbol_address("init_task"));
    session.kernel_space();
    CHECK(session.discovery_runs() == 1);
  }
}

TEST_CASE("session: without -p or -s the search that looked for a profile is the answer") {
  memscope::test::SyntheticLinux kernel;
  SessionOnDisk disk(kernel, "elf");
  SessionOptions options = disk.options(false);
  options.symbol_dirs = {disk.dir.file("empty")};
  std::filesystem::create_directories(options.symbol_dirs.front());
  Session session(options);
  CHECK(hex(session.kernel().dtb) == hex(kernel.dtb()));
  CHECK_FALSE(session.has_profile());
  CHECK(session.discovery_runs() == 1);
}

TEST_CASE("session: a kernel the chosen profile does not fit is searched again with the profile") {
  memscope::test::SyntheticLinux kernel;
  {
    // The banner matches (so -s chooses it) but the page-table root is
    // another build's: the first answer cannot be confirmed.
    SessionOnDisk disk(kernel, "elf", [](nlohmann::json& isf) {
      auto& address = isf["symbols"]["init_top_pgt"]["address"];
      address = address.get<uint64_t>() + 0x1000;
    });
    Session session(disk.options(false));
    CHECK_THROWS_WITH(session.kernel(), Catch::Contains("no Linux kernel found"));
    CHECK(session.has_profile());
    CHECK(session.discovery_runs() == 2);
  }
  {
    // No VMCOREINFO anywhere (raw image): nothing is found without a
    // profile; the banners that scan saw choose the profile, which finds
    // the kernel.
    SessionOnDisk disk(kernel, "raw");
    Session session(disk.options(false));
    CHECK(hex(session.kernel().dtb) == hex(kernel.dtb()));
    CHECK(session.has_profile());
    CHECK(session.discovery_runs() == 2);
  }
}

TEST_CASE("synthetic: a CPU's CR3 locates profile symbols when nothing else does") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  ImageNotes notes;
  notes.cpus.push_back(CpuState{0, std::nullopt, k.dtb(), std::nullopt});
  auto profile = synthetic_profile();
  DiscoveryOptions options = small_options();
  options.scan_memory = false;
  LinuxKernelInfo info = discover_linux_kernel(space, notes, profile.get(), options);
  check_found(info, k);
  CHECK(info.method == "cpu note");
}

// --- Hostile images ---------------------------------------------------------

TEST_CASE("hostile: thousands of copies of a fake VMCOREINFO cost one validation") {
  Synthetic k;
  BufferSpace space;
  build_kernel(space, k);
  Synthetic liar = k;
  liar.physical_shift += 0x400000;
  std::string fake = vmcoreinfo_text(liar);
  for (uint64_t i = 0; i < 2000; ++i) space.put_string(0x200000 + i * 512, fake);
  space.put_string(0x100000 + 0x2000000, vmcoreinfo_text(k));  // after the fakes
  LinuxKernelInfo info = discover_linux_kernel(space, ImageNotes{}, nullptr, small_options());
  check_found(info, k);
}

TEST_CASE("hostile: distinct fake VMCOREINFO texts and banner floods are capped") {
  Synthetic k;
  k.page_tables = false;  // nothing real to find
  BufferSpace space;
  build_kernel(space, k);
  for (uint64_t i = 0; i < 600; ++i) {
    Synthetic liar = k;
    liar.virtual_shift = i * 0x200000;
    space.put_string(0x200000 + i * 1024, vmcoreinfo_text(liar));
  }
  for (uint64_t i = 0; i < 5000; ++i)
    space.put_string(0x400000 + i * 64, "Linux version 0." + std::to_string(i) + " flood");
  DiscoveryOptions options = small_options();
  options.max_candidates = 20;
  auto profile = synthetic_profile();
  // Bounded by the candidate cap, which the error names: 20 of the 600
  // forged VMCOREINFO texts were tried, not all of them.
  try {
    discover_linux_kernel(space, ImageNotes{}, profile.get(), options);
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("VMCOREINFO in memory: 20 candidate(s)"));
  }
  options.list_all_banners = true;
  try {
    discover_linux_kernel(space, ImageNotes{}, profile.get(), options);
    FAIL("discovery should have failed");
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains("VMCOREINFO in memory: 20 candidate(s)"));
  }
}

TEST_CASE("hostile: forced paging levels are checked") {
  BufferSpace space;
  DiscoveryOptions options;
  options.paging_levels = 3;
  CHECK_THROWS_WITH(discover_linux_kernel(space, ImageNotes{}, nullptr, options), Catch::Contains("3-level"));
}

// --- The real fixture ------------------------------------------------------

namespace {

uint64_t truth_u64(const nlohmann::json& value) { return parse_u64(value.get<std::string>(), "truth.json"); }

struct Truth {
  uint64_t kaslr, dtb, physical_shift, init_task;
  std::string banner, release;
};

const Truth& truth_values() {
  static Truth t = [] {
    const auto& j = memscope::test::truth();
    Truth out;
    out.kaslr = truth_u64(j["kaslr_offset"]);
    out.dtb = truth_u64(j["layout"]["swapper_pg_dir_phys"]);
    // Where _text was linked to lie (System.map) against where it was loaded.
    out.physical_shift = truth_u64(j["layout"]["kernel_code_phys"]) - (truth_u64(j["system_map_text"]) - kMap);
    out.init_task = truth_u64(j["symbols"]["init_task"]);
    out.banner = j["linux_banner"].get<std::string>();
    out.release = j["kernel_release"].get<std::string>();
    return out;
  }();
  return t;
}

std::shared_ptr<const Profile> fixture_isf() {
  static auto profile = load_profile(memscope::test::fixture_file("isf.json.xz"), false);
  return profile;
}

std::shared_ptr<const Profile> fixture_generated_profile() {
  static auto profile = [] {
    nlohmann::json isf = isf_from_btf_files(memscope::test::fixture("vmlinux.btf"),
                                            memscope::test::fixture("System.map"), IsfFromBtfOptions{});
    return parse_isf_text(isf.dump(), "profile generated from vmlinux.btf + System.map");
  }();
  return profile;
}

void check_fixture(PhysicalLayer& image, const LinuxKernelInfo& info, const Profile* profile) {
  const Truth& t = truth_values();
  INFO(image.format() << ", method " << info.method << ": " << info.method_detail);
  CHECK(hex(info.virtual_shift) == hex(t.kaslr));
  CHECK(hex(info.physical_shift) == hex(t.physical_shift));
  CHECK(hex(info.dtb) == hex(t.dtb));
  CHECK(info.paging_levels == memscope::test::truth()["layout"]["paging_levels"].get<int>());
  CHECK(info.banner == t.banner);
  CHECK(info.os_release == t.release);
  CHECK(info.warnings.empty());
  // kvm_nlist("init_task") + kvm_readstr of its comm, the way the C API does.
  if (profile) {
    X86_64Paging kernel(image, info.dtb, info.paging_levels);
    uint64_t init_task = *profile->symbol("init_task") + info.virtual_shift;
    CHECK(hex(init_task) == hex(t.init_task));
    char comm[16] = {};
    kernel.read_exact(init_task + profile->offset_of("task_struct", "comm"), comm, sizeof comm);
    CHECK(std::string(comm, strnlen(comm, 16)) == "swapper/0");
  }
}

}  // namespace

TEST_CASE("fixture: discovery on every format / with and without notes and profiles") {
  const auto isf = fixture_isf();
  for (const char* name : {"image.raw", "image.lime", "image.elf"}) {
    auto image = open_image(memscope::test::fixture(name));
    for (const Profile* profile : {static_cast<const Profile*>(nullptr), isf.get()})
      for (bool use_notes : {true, false}) {
        INFO(name << (profile ? " with the ISF" : " without profile") << (use_notes ? ", notes" : ", no notes"));
        const ImageNotes& notes = use_notes ? image->notes() : ImageNotes{};
        LinuxKernelInfo info = discover_linux_kernel(*image, notes, profile);
        check_fixture(*image, info, profile);
        if (use_notes && !image->notes().vmcoreinfo.empty()) {
          CHECK(info.method == "vmcoreinfo note");
        } else if (!profile) {
          CHECK(info.method == "vmcoreinfo in memory");
        } else {
          CHECK(info.method == "banner probe");
        }
      }
  }
}

TEST_CASE("fixture: the ELF image carries VMCOREINFO and CR3 notes that discovery uses") {
  auto image = open_image(memscope::test::fixture("image.elf"));
  REQUIRE_FALSE(image->notes().vmcoreinfo.empty());
  REQUIRE(image->notes().first_cr3());
  DiscoveryOptions no_scan;
  no_scan.scan_memory = false;
  check_fixture(*image, discover_linux_kernel(*image, image->notes(), nullptr, no_scan), nullptr);

  // The CR3 alone, with the profile.
  ImageNotes cpus_only;
  cpus_only.cpus = image->notes().cpus;
  LinuxKernelInfo info = discover_linux_kernel(*image, cpus_only, fixture_isf().get(), no_scan);
  CHECK(info.method == "cpu note");
  check_fixture(*image, info, fixture_isf().get());
}

TEST_CASE("fixture: kallsyms (named by VMCOREINFO) resolves linux_banner without a profile") {
  auto image = open_image(memscope::test::fixture("image.raw"));
  LinuxKernelInfo info = discover_linux_kernel(*image, ImageNotes{}, nullptr);
  REQUIRE(info.vmcoreinfo);
  auto tables = kallsyms_tables(*info.vmcoreinfo);
  REQUIRE(tables);
  X86_64Paging kernel(*image, info.dtb, info.paging_levels);
  auto symbols = lookup_kallsyms(kernel, *tables, {"linux_banner", "init_task", "no_such_symbol_here"});
  const auto& truth = memscope::test::truth();
  CHECK(hex(symbols.at("linux_banner")) == truth["symbols"]["linux_banner"].get<std::string>());
  CHECK(hex(symbols.at("init_task")) == truth["symbols"]["init_task"].get<std::string>());
  CHECK(symbols.count("no_such_symbol_here") == 0);
  CHECK_THAT(info.method_detail, Catch::Contains("kallsyms"));
  CHECK(hex(*info.banner_address) == truth["symbols"]["linux_banner"].get<std::string>());
}

TEST_CASE("fixture: swapper/0 at init_task.comm finds the kernel when the profile has no linux_banner") {
  // A reduced profile: only what the init_task path needs, copied from the ISF.
  auto isf = fixture_isf();
  ProfileBuilder b("reduced fixture profile");
  TypeRef chr = b.named(TypeKind::kBase, "char");
  b.define_base(chr, 1, BaseKind::kChar, true);
  TypeRef task = b.named(TypeKind::kStruct, "task_struct");
  b.define_record(task, TypeKind::kStruct, isf->size_of("task_struct"));
  b.add_member(task, "comm", isf->offset_of("task_struct", "comm"), b.array_of(chr, 16), false);
  b.add_member(task, "files", isf->offset_of("task_struct", "files"),
               b.pointer_to(b.named(TypeKind::kStruct, "files_struct")), false);
  for (const char* name : {"init_top_pgt", "init_task", "init_files"}) b.add_symbol(name, *isf->symbol(name));
  auto reduced = b.finish();
  auto image = open_image(memscope::test::fixture("image.lime"));
  LinuxKernelInfo info = discover_linux_kernel(*image, ImageNotes{}, reduced.get());
  CHECK(hex(info.virtual_shift) == hex(truth_values().kaslr));
  CHECK(hex(info.dtb) == hex(truth_values().dtb));
  // Either the RAM VMCOREINFO (if it comes first) or init_task validates.
  CHECK((info.method == "init_task scan" || info.method == "vmcoreinfo in memory"));
}

TEST_CASE("fixture: discovery with a profile generated from the fixture's BTF + System.map") {
  auto generated = fixture_generated_profile();
  for (const char* name : {"image.raw", "image.lime", "image.elf"}) {
    auto image = open_image(memscope::test::fixture(name));
    for (bool use_notes : {true, false}) {
      INFO(name << (use_notes ? ", notes" : ", no notes"));
      LinuxKernelInfo info = discover_linux_kernel(*image, use_notes ? image->notes() : ImageNotes{}, generated.get());
      check_fixture(*image, info, generated.get());
    }
  }
}

TEST_CASE("fixture: every banner is listed on request") {
  auto image = open_image(memscope::test::fixture("image.raw"));
  DiscoveryOptions options;
  options.list_all_banners = true;
  LinuxKernelInfo info = discover_linux_kernel(*image, ImageNotes{}, fixture_isf().get(), options);
  check_fixture(*image, info, fixture_isf().get());
  REQUIRE_FALSE(info.banners_found.empty());
  CHECK(std::find(info.banners_found.begin(), info.banners_found.end(), truth_values().banner) !=
        info.banners_found.end());
}

TEST_CASE("fixture: the C API finds the kernel by itself: kvm_nlist + kvm_readstr of init_task.comm") {
  const Truth& t = truth_values();
  // The ISF as shipped, and the profile generated from BTF + System.map
  // (written out as ISF, the way a user would pass it).
  memscope::test::TempDir dir("discovery-kvm");
  {
    nlohmann::json generated = isf_from_btf_files(memscope::test::fixture("vmlinux.btf"),
                                                  memscope::test::fixture("System.map"), IsfFromBtfOptions{});
    std::ofstream(dir.file("generated.json")) << generated.dump();
  }
  uint64_t comm_offset = fixture_isf()->offset_of("task_struct", "comm");
  for (const std::string& profile : {memscope::test::fixture_file("isf.json.xz"), dir.file("generated.json")})
    for (const char* name : {"image.raw", "image.lime", "image.elf"}) {
      INFO(name << " with " << profile);
      char errbuf[KVM_ERRBUF_SIZE] = {};
      kvm_t* kd = kvm_openfiles(profile.c_str(), memscope::test::fixture(name).c_str(), nullptr, O_RDONLY, errbuf);
      INFO(errbuf);
      REQUIRE(kd);
      struct nlist nl[] = {{"init_task", 0, 0, 0, 0}, {nullptr, 0, 0, 0, 0}};
      CHECK(kvm_nlist(kd, nl) == 0);
      CHECK(hex(nl[0].n_value) == hex(t.init_task));
      CHECK(static_cast<uint64_t>(kvm_kerndisp(kd)) == t.kaslr);
      char comm[16] = {};
      size_t length = sizeof comm;
      char* read = kvm_readstr(kd, nl[0].n_value + comm_offset, comm, &length);
      INFO(kvm_geterr(kd));
      REQUIRE(read);
      CHECK(std::string(read) == "swapper/0");
      CHECK(length == 10);
      kvm_close(kd);
    }
}
