// linux.yarascan (core/linux/yara_scan.h): on synthetic kernels, matches
// in the right process at the right address, across pages that lie apart
// in physical memory and across the cut of a long stretch, conditions over
// a whole process, --pid, --kernel, bounded output and rules that do not
// compile; on the real fixture (raw, LiME, ELF; ISF and BTF profile), the
// rwx marker found in its process at its address and in no other process,
// each rig process's user string, and linux_banner with --kernel.
#include <algorithm>
#include <catch2/catch.hpp>
#include <fstream>
#include <map>
#include <set>

#include "core/linux/yara_scan.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/types/object.h"
#include "core/util/hex.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/page_table_builder.h"
#include "support/synthetic_linux.h"
#include "support/synthetic_session.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::SyntheticProcess;

namespace {

SyntheticOptions with_maps() {
  SyntheticOptions options;
  options.vmas = test::VmaIndexKind::kMapleTree;
  return options;
}

PluginResult yarascan(Session& session, const std::vector<std::pair<std::string, std::string>>& options,
                      bool kernel = false) {
  PluginArgs args;
  for (const auto& [name, value] : options) args.add(name, value);
  if (kernel) args.set_flag("kernel");
  return run_plugin(*find_plugin("linux.yarascan"), session, args);
}

Table scan(Session& session, const std::vector<std::pair<std::string, std::string>>& options, bool kernel = false) {
  PluginResult result = yarascan(session, options, kernel);
  INFO(result.error);
  REQUIRE(result.ok);
  return std::move(result.table);
}

struct Hit {
  std::optional<int64_t> pid;
  std::string comm, rule;
  std::optional<uint64_t> address;
  std::string match;
};

std::vector<Hit> hits(const Table& table) {
  std::vector<Hit> out;
  for (const Row& row : table.rows) {
    Hit h;
    h.pid = cell<int64_t>(table, row, "pid");
    h.comm = cell<std::string>(table, row, "comm").value_or("");
    h.rule = cell<std::string>(table, row, "rule").value();
    if (auto a = cell<Address>(table, row, "address")) h.address = a->value;
    h.match = cell<std::string>(table, row, "match").value();
    out.push_back(h);
  }
  return out;
}

// The printable half of a match cell ("52 49  RI" -> "RI").
std::string printable(const std::string& match) { return match.substr(match.find("  ") + 2); }

}  // namespace

TEST_CASE("yarascan: the marker in its process at its address / nowhere else / in each format") {
  const std::string format = GENERATE(as<std::string>{}, "lime", "raw", "elf");
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel, format);
  Table table = scan(s.session(), {{"yara-string", SyntheticLinux::kRwxMarker}});
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto found = hits(table);
  REQUIRE(found.size() == 1);
  CHECK(found[0].pid == 202);
  CHECK(found[0].comm == "worker");
  CHECK(found[0].rule == "yara_string");
  CHECK(found[0].address == SyntheticLinux::kRwxAddress);
  CHECK(printable(found[0].match) == SyntheticLinux::kRwxMarker);
}

TEST_CASE("yarascan: a regex from --yara-string finds each process's own string at its address") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  Table table = scan(s.session(), {{"yara-string", "/SYNTHETIC_USER_STRING:pid=[0-9]+/"}});
  std::map<int64_t, std::vector<Hit>> by_pid;
  for (const Hit& h : hits(table)) by_pid[h.pid.value()].push_back(h);
  std::set<int64_t> expected;
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden && p.has_mm()) expected.insert(p.pid);
  std::set<int64_t> got;
  for (const auto& [pid, list] : by_pid) got.insert(pid);
  CHECK(got == expected);
  for (const auto& [pid, list] : by_pid) {
    INFO("pid " << pid);
    REQUIRE(list.size() == 1);
    CHECK(list[0].address == SyntheticLinux::kProgramBase + SyntheticLinux::kUserStringOffset);
    CHECK(printable(list[0].match) == SyntheticLinux::user_string(static_cast<int>(pid)));
  }
}

TEST_CASE("yarascan: a string across two pages that lie apart in physical memory is found") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  const SyntheticProcess& p = kernel.process(205);  // its arguments cross a page boundary
  const linux_kernel::KernelView& view = s.view();
  Object mm(view.profile(), view.kernel(), "mm_struct", kernel.mm_address(p.pid));
  const uint64_t start = mm["arg_start"].as_u64();
  // The argument that holds the first page boundary past arg_start.
  const uint64_t boundary = (start | 0xfff) + 1;
  uint64_t at = start;
  std::string across;
  uint64_t across_at = 0;
  for (const std::string& a : p.argv) {
    if (at < boundary && at + a.size() > boundary) across = a, across_at = at;
    at += a.size() + 1;
  }
  REQUIRE(!across.empty());
  auto space = view.process_space(kernel.process_dtb(p.pid), "pid 205");
  auto first = space->translate(boundary - 1), second = space->translate(boundary);
  REQUIRE(first);
  REQUIRE(second);
  CHECK(second->physical != first->physical + 1);  // not contiguous in RAM

  Table table = scan(s.session(), {{"yara-string", across}, {"pid", std::to_string(p.pid)}});
  auto found = hits(table);
  REQUIRE(found.size() == 1);
  CHECK(found[0].address == across_at);
}

TEST_CASE("yarascan: a stretch longer than a block is cut with overlap / a match across the cut is found once") {
  SyntheticLinux kernel(with_maps());
  // A process-like space of 20 MiB mapped with 2 MiB pages, outside the
  // builder's memory: tables at 496 MiB, data at 512 MiB.
  constexpr uint64_t kTables = 0x1f000000, kData = 0x20000000, kBase = 0x200000000, kSize = 20 << 20;
  test::PageTableBuilder tables(kernel.space(), 4, kTables);
  kernel.space().map(kData, kSize);
  for (uint64_t off = 0; off < kSize; off += 2 << 20)
    tables.map_2m(kBase + off, kData + off, test::PageTableBuilder::kDefaultFlags | test::PageTableBuilder::kUser);
  const uint64_t cut = linux_kernel::YaraScanner::kMaxBlock;
  const std::string across = "ACROSS_THE_CUT_OF_A_BLOCK";
  const std::string in_overlap = "INSIDE_THE_OVERLAP_OF_TWO_BLOCKS";
  kernel.space().put(kData + cut - 10, across.data(), across.size());
  kernel.space().put(kData + cut - 1000, in_overlap.data(), in_overlap.size());
  test::SyntheticSession s(kernel);

  std::vector<linux_kernel::YaraProcess> targets = {{"the test space", tables.dtb(), {{kBase, kSize}}}};
  auto space = s.view().process_space(tables.dtb(), "test");
  std::vector<Range> blocks = linux_kernel::yara_blocks(*space, targets[0].vmas);
  REQUIRE(blocks.size() == 2);
  CHECK(blocks[0] == Range{kBase, cut});
  CHECK(blocks[1].start == kBase + cut - linux_kernel::YaraScanner::kBlockOverlap);
  CHECK(blocks[1].end() == kBase + kSize);

  auto rules = linux_kernel::YaraRules::from_string(
      "rule across { strings: $a = \"" + across + "\" condition: $a }\n"
      "rule overlap { strings: $b = \"" + in_overlap + "\" condition: #b == 1 }");
  linux_kernel::YaraScanOptions options;
  options.progress = "";
  linux_kernel::YaraScanner scanner(s.view(), rules, options);
  Warnings warnings;
  auto results = scanner.scan_processes(targets, warnings);
  CHECK(warnings.empty());
  REQUIRE(results.size() == 1);
  CHECK(results[0].bytes_scanned == kSize + linux_kernel::YaraScanner::kBlockOverlap);
  std::map<std::string, std::vector<uint64_t>> by_rule;
  for (const auto& m : results[0].matches) by_rule[m.rule].push_back(m.address.value());
  CHECK(by_rule["across"] == std::vector<uint64_t>{kBase + cut - 10});
  CHECK(by_rule["overlap"] == std::vector<uint64_t>{kBase + cut - 1000});
}

TEST_CASE("yarascan: many small blocks are fetched in batches / a page not in the image is named and costs itself only") {
  SyntheticLinux kernel(with_maps());
  // A process-like space of 1500 pages mapped one in two (each its own
  // block), more than one batch of blocks: tables at 496 MiB, data at 512
  // MiB; one page maps where the image has nothing.
  constexpr uint64_t kTables = 0x1f000000, kData = 0x20000000, kBase = 0x300000000, kPages = 1500;
  constexpr uint64_t kUnreadable = 700, kNowhere = 0x7f00000000;
  test::PageTableBuilder tables(kernel.space(), 4, kTables);
  kernel.space().map(kData, kPages * 4096);
  const std::string marker = "BATCHED_BLOCK_MARKER";
  std::set<uint64_t> expected;
  for (uint64_t i = 0; i < kPages; ++i) {
    const uint64_t va = kBase + 2 * i * 4096;
    const uint64_t pa = i == kUnreadable ? kNowhere : kData + i * 4096;
    tables.map_4k(va, pa, test::PageTableBuilder::kDefaultFlags | test::PageTableBuilder::kUser);
    if (i % 10 != 0) continue;
    const uint64_t offset = (i * 7) % (4096 - marker.size());
    if (i != kUnreadable) {
      kernel.space().put(pa + offset, marker.data(), marker.size());
      expected.insert(va + offset);
    }
  }
  test::SyntheticSession s(kernel);
  std::vector<linux_kernel::YaraProcess> targets = {{"the test space", tables.dtb(), {{kBase, 2 * kPages * 4096}}}};
  auto space = s.view().process_space(tables.dtb(), "test");
  REQUIRE(linux_kernel::yara_blocks(*space, targets[0].vmas).size() == kPages);
  REQUIRE(kPages * 4096 > (uint64_t{4} << 20));  // more than a batch (4 MiB)

  auto rules = linux_kernel::YaraRules::from_string("rule each { strings: $a = \"" + marker +
                                                    "\" condition: $a }\n"
                                                    "rule counted { strings: $a = \"" + marker +
                                                    "\" condition: #a == " + std::to_string(expected.size()) + " }");
  for (unsigned threads : {1u, 2u}) {
    INFO(threads << " workers");
    linux_kernel::YaraScanOptions options;
    options.progress = "";
    options.threads = threads;
    linux_kernel::YaraScanner scanner(s.view(), rules, options);
    Warnings warnings;
    auto results = scanner.scan_processes(targets, warnings);
    // The page the image does not hold is named, and scanned as zeros.
    REQUIRE(warnings.lines().size() == 1);
    CHECK(warnings.lines()[0] == "the test space: 1 pages its page tables map are not in the image (the first at " +
                                     hex_address(kBase + 2 * kUnreadable * 4096) + "); scanned as zeros");
    REQUIRE(results.size() == 1);
    CHECK(results[0].blocks == kPages);
    std::set<uint64_t> found;
    size_t counted = 0;
    for (const auto& m : results[0].matches) {
      if (m.rule == "each") found.insert(m.address.value());
      if (m.rule == "counted") ++counted;
    }
    CHECK(found == expected);
    CHECK(counted == expected.size());  // the condition saw every batch
  }
}

TEST_CASE("yarascan: a condition sees the whole process / a rule without strings matches once per process") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  test::TempDir dir("yara");
  std::ofstream(dir.file("rules.yar")) << "rule both_regions {\n"
                                          "  strings: $u = \"SYNTHETIC_USER_STRING\" $m = \""
                                       << SyntheticLinux::kRwxMarker
                                       << "\"\n"
                                          "  condition: $u and $m\n"
                                          "}\n"
                                          "rule every_process { condition: true }\n";
  Table table = scan(s.session(), {{"yara-file", dir.file("rules.yar")}});
  std::map<std::string, std::vector<Hit>> by_rule;
  for (const Hit& h : hits(table)) by_rule[h.rule].push_back(h);
  // Only the worker has both strings, in two VMAs far apart.
  std::set<std::pair<int64_t, uint64_t>> both;
  for (const Hit& h : by_rule["both_regions"]) both.insert({h.pid.value(), h.address.value()});
  CHECK(both == std::set<std::pair<int64_t, uint64_t>>{
                    {202, SyntheticLinux::kProgramBase + SyntheticLinux::kUserStringOffset},
                    {202, SyntheticLinux::kRwxAddress}});
  std::set<int64_t> every, expected;
  for (const Hit& h : by_rule["every_process"]) {
    CHECK(!h.address);
    CHECK(every.insert(h.pid.value()).second);
  }
  for (const SyntheticProcess& p : kernel.processes())
    if (!p.hidden && p.has_mm()) expected.insert(p.pid);
  CHECK(every == expected);
}

TEST_CASE("yarascan: --pid restricts the scan / a PID that matched nothing is named") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  Table table = scan(s.session(), {{"yara-string", "/SYNTHETIC_USER_STRING:pid=[0-9]+/"}, {"pid", "201,205"}});
  std::set<int64_t> pids;
  for (const Hit& h : hits(table)) pids.insert(h.pid.value());
  CHECK(pids == std::set<int64_t>{201, 205});
  Table none = scan(s.session(), {{"yara-string", "x"}, {"pid", "4242"}});
  CHECK(none.rows.empty());
  REQUIRE(none.warnings.size() == 1);
  CHECK(none.warnings[0] == "--pid 4242: no process with this PID on the task list");
}

TEST_CASE("yarascan --kernel: kernel memory is scanned / hits shown at the kernel's addresses") {
  SyntheticLinux kernel(with_maps());
  // A string in a slab object (the direct map) as well.
  const std::string slab_text = "IN_A_SLAB_OBJECT_OF_THE_KERNEL";
  const uint64_t slab_object = kernel.task_address(205) + kernel.offset_of("task_struct", "comm") + 0x300;
  kernel.poke_kernel(slab_object, slab_text.data(), slab_text.size());
  // The image's end, as every real profile has it (the builder maps 8 MiB from _text).
  test::SyntheticSession s(kernel, "lime", [&](nlohmann::json& profile) {
    profile["symbols"]["_end"] = {{"address", kernel.symbol_link_address("_text") + 0x800000}};
  });
  const std::string banner = kernel.banner();
  Table table = scan(s.session(), {{"yara-string", banner}}, true);
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto found = hits(table);
  REQUIRE(found.size() == 1);
  CHECK(!found[0].pid);
  CHECK(found[0].comm == "kernel");
  CHECK(found[0].address == kernel.symbol_address("linux_banner"));
  auto slab = hits(scan(s.session(), {{"yara-string", slab_text}}, true));
  REQUIRE(slab.size() == 1);
  CHECK(slab[0].comm == "kernel");
  CHECK(slab[0].address == slab_object);
  // Without --kernel, kernel memory is not scanned.
  CHECK(scan(s.session(), {{"yara-string", banner}}).rows.empty());
}

TEST_CASE("yarascan: matches of one string are bounded per process / the rest counted in a warning") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  Table table = scan(s.session(), {{"yara-string", "{ 00 00 00 00 }"}, {"pid", "201"}});
  CHECK(table.rows.size() == linux_kernel::YaraScanner::kMaxMatchesPerString);
  INFO(all_warnings(table));
  REQUIRE(table.warnings.size() == 1);
  CHECK(table.warnings[0].find("pid 201") != std::string::npos);
  CHECK(table.warnings[0].find("more matches of string $a not listed") != std::string::npos);
}

TEST_CASE("yarascan: a rule file that does not compile is an error naming the file and the line") {
  SyntheticLinux kernel(with_maps());
  test::SyntheticSession s(kernel);
  test::TempDir dir("yara");
  const std::string path = dir.file("broken.yar");
  std::ofstream(path) << "rule fine { strings: $a = \"x\" condition: $a }\n"
                         "\n"
                         "rule broken { strings: $a = \"y\" condition: $b }\n";
  PluginResult result = yarascan(s.session(), {{"yara-file", path}});
  CHECK(!result.ok);
  INFO(result.error);
  CHECK(result.error.find(path + ":3:") != std::string::npos);
  CHECK(result.error.find("$b") != std::string::npos);
  PluginResult inline_rule = yarascan(s.session(), {{"yara-string", "rule r {\n strings: $a = \"x\"\n condition: $a and\n}"}});
  CHECK(!inline_rule.ok);
  CHECK(inline_rule.error.find("--yara-string:4:") != std::string::npos);
  PluginResult missing = yarascan(s.session(), {{"yara-file", dir.file("absent.yar")}});
  CHECK(!missing.ok);
  CHECK(missing.error.find(dir.file("absent.yar")) != std::string::npos);
  PluginResult neither = yarascan(s.session(), {});
  CHECK(!neither.ok);
  CHECK(neither.error.find("--yara-file") != std::string::npos);
  PluginResult both = yarascan(s.session(), {{"yara-file", path}, {"yara-string", "x"}});
  CHECK(!both.ok);
}

TEST_CASE("yarascan: match cells show hex then printable text") {
  CHECK(linux_kernel::format_match_bytes({'A', 0x00, 'z', 0x7f}) == "41 00 7a 7f  A.z.");
  CHECK(linux_kernel::YaraRules::rule_for_text("a\"b\\c\n", "r") ==
        "rule r { strings: $a = \"a\\\"b\\\\c\\x0a\" condition: $a }");
}

// --- The real fixture ------------------------------------------------------------------

TEST_CASE("fixture: yarascan finds the rwx marker in its process at its address and in no other process") {
  test::use_build_tree_cache();
  const auto& truth = test::truth();
  const auto& marker = truth.at("rwx_marker");
  const int64_t pid = marker.at("pid");
  const uint64_t address = std::stoull(marker.at("address").get<std::string>(), nullptr, 16);
  const std::string text = marker.at("string");
  for (const char* profile : {"isf", "btf"}) {
    for (const char* format : {"raw", "lime", "elf"}) {
      INFO("image." << format << " with the " << profile << " profile");
      SessionOptions options;
      options.image = test::fixture(std::string("image.") + format);
      options.profile = test::fixture_profile(profile);
      Session session(options);
      Table table = scan(session, {{"yara-string", text}});
      INFO(all_warnings(table));
      CHECK(table.warnings.empty());
      auto found = hits(table);
      REQUIRE(!found.empty());
      bool at_address = false;
      for (const Hit& h : found) {
        CHECK(h.pid == pid);  // the process's own copies (its stack, its stdio buffer) are in it too
        CHECK(h.comm == marker.at("comm").get<std::string>());
        CHECK(printable(h.match) == text);
        at_address = at_address || h.address == address;
      }
      CHECK(at_address);
    }
  }
}

TEST_CASE("fixture: yarascan finds each rig process's user string at its address / linux_banner with --kernel") {
  test::use_build_tree_cache();
  const auto& truth = test::truth();
  SessionOptions options;
  options.image = test::fixture("image.lime");
  options.profile = test::fixture_profile("isf");
  Session session(options);
  test::TempDir dir("yara");
  std::ofstream rules(dir.file("rig.yar"));
  std::map<std::string, const nlohmann::json*> by_rule;
  std::set<int64_t> listed;
  for (const auto& p : truth.at("processes"))
    if (p.at("in_task_list").get<bool>()) listed.insert(p.at("pid").get<int64_t>());
  for (const auto& s : truth.at("user_strings")) {
    if (!listed.count(s.at("pid").get<int64_t>())) continue;  // a hidden process: not on the task list
    const std::string name = "user_string_" + std::to_string(s.at("pid").get<int64_t>());
    rules << linux_kernel::YaraRules::rule_for_text(s.at("string"), name) << "\n";
    by_rule[name] = &s;
  }
  rules.close();
  REQUIRE(!by_rule.empty());
  Table table = scan(session, {{"yara-file", dir.file("rig.yar")}});
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::set<std::string> found;
  for (const Hit& h : hits(table)) {
    const nlohmann::json& s = *by_rule.at(h.rule);
    if (h.pid == s.at("pid").get<int64_t>() &&
        h.address == std::stoull(s.at("address").get<std::string>(), nullptr, 16))
      found.insert(h.rule);
  }
  CHECK(found.size() == by_rule.size());

  const std::string banner = truth.at("linux_banner");
  const uint64_t banner_address = std::stoull(truth.at("symbols").at("linux_banner").get<std::string>(), nullptr, 16);
  Table kernel = scan(session, {{"yara-string", banner}}, true);
  bool at_symbol = false;
  for (const Hit& h : hits(kernel)) {
    CHECK(!h.pid);
    at_symbol = at_symbol || (h.comm == "kernel" && h.address == banner_address);
  }
  CHECK(at_symbol);
}
