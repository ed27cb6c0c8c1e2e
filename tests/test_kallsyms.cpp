// The kernel's own symbol table (core/linux/discovery/kallsyms.h): decoding
// tables built byte for byte in every layout kernels use, finding them by
// their structure, refusing damaged ones with messages that name the
// address; and on the fixture, the whole table against System.map.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "core/layers/format_registry.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "core/plugin/plugin.h"
#include "core/util/hex.h"
#include "profiles/system_map.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/synthetic_kallsyms.h"

using namespace memscope;
using test::BufferSpace;
using test::KallsymsInput;

namespace {

constexpr uint64_t kText = 0xffffffffa1000000ull;  // a KASLR-shifted _text
constexpr uint64_t kBlobAt = 0x2345000;           // where the tables lie in the test space

// A kernel's worth of variety: per-CPU symbols (absolute values), text and
// data, every digit and letter, a name long enough to need a two-byte
// length, names that share prefixes, repeated addresses.
std::vector<KallsymsInput> sample_symbols(bool with_percpu = true) {
  std::vector<KallsymsInput> out;
  if (with_percpu) {
    out.push_back({"fixed_percpu_data", 'A', 0});
    out.push_back({"__per_cpu_start", 'A', 0});
    out.push_back({"current_task", 'A', 0x1fb80});
  }
  out.push_back({"_text", 'T', kText});
  out.push_back({"_stext", 'T', kText});
  out.push_back({"startup_64", 'T', kText});
  for (int i = 0; i < 1500; ++i) {
    std::string name = (i % 3 ? "do_syscall_" : "__x64_sys_") + std::to_string(i * 7919 % 100000);
    out.push_back({name, i % 2 ? 'T' : 't', kText + 0x100 + uint64_t(i) * 0x40});
  }
  std::string long_name = "a_very_long_symbol_name";
  while (long_name.size() < 400) long_name += "_QWERTYUIOPASDFGHJKLZXCVBNM" + std::to_string(long_name.size());
  out.push_back({long_name, 't', kText + 0x200000});
  const uint64_t data = kText + 0x1000000;
  out.push_back({"linux_banner", 'D', data});
  out.push_back({"init_task", 'D', data + 0x1000});
  out.push_back({"init_top_pgt", 'D', data + 0x10000});
  out.push_back({"__start_BTF", 'R', data + 0x20000});
  out.push_back({"__stop_BTF", 'R', data + 0x30000});
  out.push_back({"_end", 'B', data + 0x40000});
  return out;
}

void place(BufferSpace& space, uint64_t at, const std::vector<uint8_t>& bytes) { space.put(at, bytes.data(), bytes.size()); }

void check_same(const KallsymsTable& table, const std::vector<KallsymsInput>& input) {
  REQUIRE(table.symbols.size() == input.size());
  for (size_t i = 0; i < input.size(); ++i) {
    INFO("symbol " << i << " " << input[i].name);
    CHECK(table.symbols[i].name == input[i].name);
    CHECK(table.symbols[i].type == input[i].type);
    CHECK(table.symbols[i].address == input[i].address);
  }
}

struct Layout {
  const char* name;
  test::KallsymsBlobOptions options;
};

std::vector<Layout> layouts() {
  std::vector<Layout> out;
  out.push_back({"6.1: offsets first, absolute per-CPU", {}});
  test::KallsymsBlobOptions newer;
  newer.order = test::KallsymsOrder::kFrom6_4;
  out.push_back({"6.4+: names first", newer});
  test::KallsymsBlobOptions relative;
  relative.absolute_percpu = false;
  out.push_back({"offsets relative to the base only", relative});
  test::KallsymsBlobOptions absolute;
  absolute.base_relative = false;
  absolute.marker_size = 8;
  absolute.seqs_of_names = false;
  out.push_back({"absolute addresses, pointer-sized markers", absolute});
  test::KallsymsBlobOptions newer_absolute = absolute;
  newer_absolute.order = test::KallsymsOrder::kFrom6_4;
  out.push_back({"absolute addresses after the token index", newer_absolute});
  return out;
}

}  // namespace

TEST_CASE("kallsyms: a synthetic table decodes whole in every layout") {
  for (const Layout& layout : layouts()) {
    INFO(layout.name);
    // Without the absolute-per-CPU encoding, per-CPU symbols are ordinary
    // addresses: leave them out.
    const auto input = sample_symbols(layout.options.absolute_percpu && layout.options.base_relative);
    test::KallsymsBlob blob = test::build_kallsyms(input, layout.options);
    BufferSpace space;
    place(space, kBlobAt, blob.bytes);
    KallsymsTables tables = blob.at(kBlobAt);
    tables.markers = kBlobAt + blob.markers;
    KallsymsTable table = read_kallsyms(space, tables);
    check_same(table, input);
    CHECK(table.warnings.empty());
    CHECK(table.markers_checked == (input.size() + 255) / 256);
    CHECK(table.tables.marker_size == layout.options.marker_size);
    CHECK(table.absolute_percpu == (layout.options.base_relative && layout.options.absolute_percpu));
    CHECK(table.has_data_symbols());
    REQUIRE(table.find("init_top_pgt"));
    CHECK(table.find("init_top_pgt")->address == kText + 0x1010000);

    // Markers not given (VMCOREINFO does not name them) are found after the names.
    KallsymsTables unnamed = tables;
    unnamed.markers = 0;
    KallsymsTable probed = read_kallsyms(space, unnamed);
    CHECK(probed.tables.markers == kBlobAt + blob.markers);
    CHECK(probed.markers_checked == table.markers_checked);

    // The quick lookup agrees, for kernel-image symbols.
    auto found = lookup_kallsyms(space, tables, {"linux_banner", "_end", "no_such_symbol", input[input.size() / 2].name});
    CHECK(found.at("linux_banner") == table.find("linux_banner")->address);
    CHECK(found.at("_end") == table.find("_end")->address);
    CHECK(found.at(input[input.size() / 2].name) == input[input.size() / 2].address);
    CHECK(found.count("no_such_symbol") == 0);
  }
}

TEST_CASE("kallsyms: VMCOREINFO's lines name the tables") {
  test::KallsymsBlob blob = test::build_kallsyms(sample_symbols());
  VmcoreInfo info = parse_vmcoreinfo("OSRELEASE=6.1.0\n" + blob.vmcoreinfo_lines(0xffffffffa2000000ull), "test");
  std::optional<KallsymsTables> tables = kallsyms_tables(info);
  REQUIRE(tables);
  CHECK(tables->names == 0xffffffffa2000000ull + blob.names);
  CHECK(tables->relative_base == 0xffffffffa2000000ull + blob.relative_base);
  CHECK(tables->found_by == "VMCOREINFO");
  CHECK_FALSE(kallsyms_tables(parse_vmcoreinfo("OSRELEASE=6.1.0\nSYMBOL(kallsyms_names)=ffffffff81000000\n", "t")));
}

TEST_CASE("kallsyms: the structure search finds the tables in every layout") {
  std::mt19937_64 random(7);
  for (const Layout& layout : layouts()) {
    INFO(layout.name);
    const auto input = sample_symbols(layout.options.absolute_percpu && layout.options.base_relative);
    test::KallsymsBlob blob = test::build_kallsyms(input, layout.options);
    // The tables amid other rodata: random bytes before and after, and a
    // decoy copy of the digit tokens that is not a token table.
    BufferSpace space;
    std::vector<uint8_t> noise(3 << 20);
    for (auto& b : noise) b = uint8_t(random());
    place(space, kBlobAt - noise.size(), noise);
    place(space, kBlobAt + blob.bytes.size(), noise);
    space.put(kBlobAt - 0x1000, std::string(kKallsymsDigitTokens).data(), kKallsymsDigitTokens.size());
    place(space, kBlobAt, blob.bytes);

    std::string why;
    std::optional<KallsymsTable> found = find_kallsyms(space, {}, &why);
    INFO(why);
    REQUIRE(found);
    check_same(*found, input);
    CHECK(found->tables.names == kBlobAt + blob.names);
    CHECK(found->tables.token_table == kBlobAt + blob.token_table);
    CHECK(found->tables.token_index == kBlobAt + blob.token_index);
    CHECK(found->tables.markers == kBlobAt + blob.markers);
    CHECK(found->markers_checked == (input.size() + 255) / 256);
    CHECK_THAT(found->tables.found_by, Catch::Contains("structure search"));
    if (layout.options.seqs_of_names && layout.options.order == test::KallsymsOrder::kUpTo6_3)
      CHECK(found->tables.seqs_of_names == kBlobAt + blob.seqs_of_names);
  }
}

TEST_CASE("kallsyms: look-alikes are rejected within a bound") {
  // Thousands of digit-token runs and no table: every candidate is refused,
  // and only max_candidates of them are examined.
  BufferSpace space;
  std::string page(4096, 'x');
  for (size_t at = 0; at + kKallsymsDigitTokens.size() < page.size(); at += 64)
    std::memcpy(page.data() + at, kKallsymsDigitTokens.data(), kKallsymsDigitTokens.size());
  for (uint64_t p = 0; p < 256; ++p) space.put(0x100000 + p * 4096, page.data(), page.size());
  KallsymsSearchOptions options;
  options.max_candidates = 8;
  std::string why;
  CHECK_FALSE(find_kallsyms(space, options, &why));
  CHECK_THAT(why, Catch::Contains("8 token table candidate(s), none validated"));

  BufferSpace empty;
  empty.map(0, 1 << 20);
  CHECK_FALSE(find_kallsyms(empty, {}, &why));
  CHECK_THAT(why, Catch::Contains("no kallsyms token table"));
}

TEST_CASE("kallsyms: a page of the names missing is a ReadError naming the symbol and the address") {
  const auto input = sample_symbols();
  test::KallsymsBlob blob = test::build_kallsyms(input);
  BufferSpace space;
  const uint64_t hole = (kBlobAt + blob.names + (blob.names_end - blob.names) / 2) & ~uint64_t{4095};
  // Everything but one page of the names.
  place(space, kBlobAt, std::vector<uint8_t>(blob.bytes.begin(), blob.bytes.begin() + std::ptrdiff_t(hole - kBlobAt)));
  place(space, hole + 4096,
        std::vector<uint8_t>(blob.bytes.begin() + std::ptrdiff_t(hole + 4096 - kBlobAt), blob.bytes.end()));
  KallsymsTables tables = blob.at(kBlobAt);
  try {
    read_kallsyms(space, tables);
    FAIL("a hole in the names was read");
  } catch (const ReadError& e) {
    CHECK(e.address() == hole);
    CHECK_THAT(e.what(), Catch::Contains("kallsyms: symbol "));
    CHECK_THAT(e.what(), Catch::Contains(" of " + std::to_string(input.size())));
    CHECK_THAT(e.what(), Catch::Contains(hex(hole)));
  }
  CHECK_THROWS_AS(lookup_kallsyms(space, tables, {"_end"}), ReadError);
  // The structure search does not accept what it cannot read either.
  std::string why;
  CHECK_FALSE(find_kallsyms(space, {}, &why));
  CHECK_FALSE(why.empty());
}

TEST_CASE("kallsyms: damaged tables are refused with the table and address named") {
  const auto input = sample_symbols();
  test::KallsymsBlob blob = test::build_kallsyms(input);
  KallsymsTables tables = blob.at(kBlobAt);
  tables.markers = kBlobAt + blob.markers;
  auto damaged = [&](uint64_t offset, const void* bytes, size_t n) {
    auto space = std::make_unique<BufferSpace>();
    place(*space, kBlobAt, blob.bytes);
    space->put(kBlobAt + offset, bytes, n);
    return space;
  };
  SECTION("an absurd symbol count") {
    uint32_t count = 0x7fffffff;
    auto space = damaged(blob.num_syms, &count, 4);
    CHECK_THROWS_WITH(read_kallsyms(*space, tables), Catch::Contains("implausible symbol count") &&
                                                         Catch::Contains(hex(kBlobAt + blob.num_syms)));
  }
  SECTION("a token index that does not increase") {
    uint16_t offset = 0;
    auto space = damaged(blob.token_index + 2 * 100, &offset, 2);
    CHECK_THROWS_WITH(read_kallsyms(*space, tables), Catch::Contains("kallsyms_token_index") &&
                                                         Catch::Contains(hex(kBlobAt + blob.token_index)));
  }
  SECTION("markers that disagree with the names") {
    uint32_t marker = 12345;
    auto space = damaged(blob.markers + 4 * 2, &marker, 4);
    CHECK_THROWS_WITH(read_kallsyms(*space, tables), Catch::Contains("kallsyms_markers") &&
                                                         Catch::Contains("marker 2 is 12345"));
  }
  SECTION("an entry that does not decode") {
    uint8_t zero = 0;  // a zero-length entry
    auto space = damaged(blob.names, &zero, 1);
    CHECK_THROWS_WITH(read_kallsyms(*space, tables), Catch::Contains("entry 0 of") &&
                                                         Catch::Contains(hex(kBlobAt + blob.names)));
  }
  SECTION("a count larger than the names: the read runs into the end of memory") {
    uint32_t count = uint32_t(input.size() * 400);
    auto space = damaged(blob.num_syms, &count, 4);
    tables.markers = 0;
    CHECK_THROWS_AS(read_kallsyms(*space, tables), Error);
  }
  SECTION("addresses out of order are reported") {
    int32_t wild = -0x7000000;  // far above its neighbours
    auto space = damaged(blob.offsets + 4 * 100, &wild, 4);
    KallsymsTable table = read_kallsyms(*space, tables);
    REQUIRE_FALSE(table.warnings.empty());
    CHECK_THAT(table.warnings.front(), Catch::Contains("lower than the one before"));
    // The structure search does not believe such a table.
    std::string why;
    CHECK_FALSE(find_kallsyms(*space, {}, &why));
    CHECK_THAT(why, Catch::Contains("lower than the one before"));
  }
}

// --- The fixture ---------------------------------------------------------

namespace {

struct FixtureKallsyms {
  std::unique_ptr<PhysicalLayer> image;
  LinuxKernelInfo kernel;
  KallsymsTable table;
};

const FixtureKallsyms& fixture_kallsyms() {
  static FixtureKallsyms f = [] {
    FixtureKallsyms out;
    out.image = open_image(test::fixture("image.raw"));
    out.kernel = discover_linux_kernel(*out.image, ImageNotes{}, nullptr);
    REQUIRE(out.kernel.vmcoreinfo);
    auto tables = kallsyms_tables(*out.kernel.vmcoreinfo);
    REQUIRE(tables);
    X86_64Paging kernel(*out.image, out.kernel.dtb, out.kernel.paging_levels);
    out.table = read_kallsyms(kernel, *tables);
    return out;
  }();
  return f;
}

uint64_t parse_hex(const std::string& text) { return std::stoull(text, nullptr, 16); }

}  // namespace

TEST_CASE("fixture: kallsyms decodes the whole table and agrees with System.map") {
  const FixtureKallsyms& f = fixture_kallsyms();
  const KallsymsTable& table = f.table;
  CHECK(table.warnings.empty());
  CHECK(table.absolute_percpu);
  CHECK(table.has_data_symbols());
  const uint64_t shift = parse_hex(test::truth().at("kaslr_offset").get<std::string>());
  CHECK(f.kernel.virtual_shift == shift);

  SystemMap map = load_system_map(test::fixture("System.map"));
  std::multimap<std::string, uint64_t> link;  // System.map: name -> link-time addresses
  for (const SystemMapSymbol& s : map.symbols) link.emplace(s.name, s.address);
  std::map<std::string, uint64_t> recovered;  // kallsyms at link time, first of each name
  for (const KallsymsSymbol& s : table.symbols)
    recovered.emplace(s.name, s.address >= 0xffff800000000000ull ? s.address - shift : s.address);

  // Every symbol the plugins use, and every one truth.json read from
  // /proc/kallsyms, is System.map's exactly.
  std::set<std::string> used;
  for (const Plugin& plugin : plugins())
    for (const std::string& s : plugin.info.required_symbols) used.insert(s);
  for (const auto& [name, value] : test::truth().at("symbols").items()) used.insert(name);
  for (const char* name : {"init_task", "modules", "linux_banner", "init_top_pgt", "__start_BTF", "__stop_BTF",
                                  "init_pid_ns", "prb", "tty_ldiscs", "__per_cpu_offset", "_etext", "_text"})
    used.insert(name);
  for (const std::string& name : used) {
    INFO(name);
    auto it = recovered.find(name);
    REQUIRE(it != recovered.end());
    auto [first, last] = link.equal_range(name);
    bool same = false;
    for (auto i = first; i != last; ++i) same = same || i->second == it->second;
    CHECK(same);
  }
  for (const auto& [name, value] : test::truth().at("symbols").items()) {
    INFO(name);
    const KallsymsSymbol* s = table.find(name);
    REQUIRE(s);
    CHECK(s->address == parse_hex(value.get<std::string>()));
  }

  // System.map's text and data symbols: how many kallsyms has at the same
  // address under the same name.
  size_t text_data = 0, agreed = 0;
  std::multimap<std::string, uint64_t> kallsyms_link;
  for (const KallsymsSymbol& s : table.symbols)
    kallsyms_link.emplace(s.name, s.address >= 0xffff800000000000ull ? s.address - shift : s.address);
  std::vector<std::string> missing;
  for (const SystemMapSymbol& s : map.symbols) {
    if (!std::strchr("TtDdBbRr", s.type)) continue;
    ++text_data;
    auto [first, last] = kallsyms_link.equal_range(s.name);
    bool same = false;
    for (auto i = first; i != last; ++i) same = same || i->second == s.address;
    if (same)
      ++agreed;
    else if (missing.size() < 20)
      missing.push_back(s.name);
  }
  const double agreement = double(agreed) / double(text_data);
  std::ostringstream figure;
  figure << "kallsyms agrees with System.map on " << agreed << " of " << text_data << " text and data symbols ("
         << agreement * 100 << "%); " << table.symbols.size() << " symbols in kallsyms, " << map.symbols.size()
         << " lines in System.map";
  WARN(figure.str());
  std::string list;
  for (const std::string& m : missing) list += m + " ";
  INFO("not in kallsyms: " << list);
  CHECK(agreement >= 0.99);
}

TEST_CASE("fixture: the structure search finds the same table in physical memory") {
  const FixtureKallsyms& f = fixture_kallsyms();
  std::string why;
  std::optional<KallsymsTable> found = find_kallsyms(*f.image, {}, &why);
  INFO(why);
  REQUIRE(found);
  REQUIRE(found->symbols.size() == f.table.symbols.size());
  size_t same = 0;
  for (size_t i = 0; i < found->symbols.size(); ++i)
    same += found->symbols[i].name == f.table.symbols[i].name && found->symbols[i].address == f.table.symbols[i].address &&
            found->symbols[i].type == f.table.symbols[i].type;
  CHECK(same == f.table.symbols.size());
  CHECK(found->markers_checked > 0);
  CHECK(found->tables.seqs_of_names != 0);  // 6.1 has kallsyms_seqs_of_names

  // The page table from the table alone: what discovery found.
  std::optional<KernelFromKallsyms> kernel = locate_kernel_by_kallsyms(*f.image, *found, ImageNotes{}, &why);
  INFO(why);
  REQUIRE(kernel);
  CHECK(kernel->dtb == f.kernel.dtb);
  CHECK(kernel->paging_levels == f.kernel.paging_levels);
  CHECK(kernel->text_virtual == found->find("_text")->address);
}
