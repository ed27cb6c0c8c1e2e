// The process-memory plugins (linux.maps, linux.malfind, linux.proc_dump,
// linux.elfs) on the real fixture image, in each format (raw, LiME, ELF
// core), with the fixture's ISF and with a profile generated from its BTF,
// against truth.json: the /proc/PID/maps lines the guest printed, its
// rwx_marker region, the user_strings each rig process holds, and each
// process's exe.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::all_warnings;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

Table run(Session& session, const std::string& name, const PluginArgs& args = {}) {
  PluginResult result = run_plugin(*find_plugin(name), session, args);
  INFO(result.error);
  REQUIRE(result.ok);
  return std::move(result.table);
}

template <typename T>
T get(const Table& table, const Row& row, const std::string& key) {
  const Value& v = row.cells.at(table.column_index(key));
  const T* value = std::get_if<T>(&v);
  INFO("column " << key << " of a row is empty or of another type");
  REQUIRE(value != nullptr);
  return *value;
}

uint64_t hex_value(const std::string& text) { return std::stoull(text, nullptr, 16); }

// truth's user processes on the task list that have maps lines.
std::map<int64_t, json> mapped_processes() {
  std::map<int64_t, json> out;
  for (const json& p : test::truth().at("processes"))
    if (!p.at("hidden").get<bool>() && !p.at("kernel_thread").get<bool>() && p.contains("maps"))
      out[p.at("pid").get<int64_t>()] = p;
  return out;
}

// One /proc/PID/maps line: "start-end perms offset major:minor inode   path".
struct MapsLine {
  uint64_t start = 0, end = 0, offset = 0, major = 0, minor = 0, inode = 0;
  std::string perms, path;
};

MapsLine parse_maps_line(const std::string& line) {
  std::istringstream in(line);
  std::string range, dev;
  MapsLine out;
  in >> range >> out.perms >> std::hex >> out.offset >> dev >> std::dec >> out.inode;
  size_t dash = range.find('-'), colon = dev.find(':');
  REQUIRE(dash != std::string::npos);
  REQUIRE(colon != std::string::npos);
  out.start = hex_value(range.substr(0, dash));
  out.end = hex_value(range.substr(dash + 1));
  out.major = hex_value(dev.substr(0, colon));
  out.minor = hex_value(dev.substr(colon + 1));
  std::getline(in, out.path);
  size_t first = out.path.find_first_not_of(' ');
  out.path = first == std::string::npos ? "" : out.path.substr(first);
  while (!out.path.empty() && out.path.back() == ' ') out.path.pop_back();
  return out;
}

void check_maps(Session& session) {
  Table table = run(session, "linux.maps");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<int64_t, std::vector<const Row*>> by_pid;
  for (const Row& row : table.rows) by_pid[get<int64_t>(table, row, "pid")].push_back(&row);
  auto truth = mapped_processes();
  REQUIRE(!truth.empty());
  for (const auto& [pid, p] : truth) {
    INFO("pid " << pid << " " << p.at("comm"));
    const auto& lines = p.at("maps");
    const auto& rows = by_pid[pid];
    REQUIRE(rows.size() == lines.size());
    for (size_t i = 0; i < rows.size(); ++i) {
      const Row& row = *rows[i];
      MapsLine expected = parse_maps_line(lines[i].get<std::string>());
      INFO(lines[i].get<std::string>());
      CHECK(get<Address>(table, row, "start").value == expected.start);
      CHECK(get<Address>(table, row, "end").value == expected.end);
      CHECK(get<std::string>(table, row, "flags") == expected.perms);
      CHECK(get<uint64_t>(table, row, "pgoff") == expected.offset);
      CHECK(get<uint64_t>(table, row, "major") == expected.major);
      CHECK(get<uint64_t>(table, row, "minor") == expected.minor);
      CHECK(get<uint64_t>(table, row, "inode") == expected.inode);
      CHECK(get<std::string>(table, row, "path") == expected.path);
    }
  }
}

std::string hex_bytes(const std::string& text) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (unsigned char c : text) {
    if (!out.empty()) out += ' ';
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

// truth's rwx_marker: the region is reported in its process, and its
// hexdump starts with the marker's first bytes (as hex and as text).
void check_malfind(Session& session) {
  Table table = run(session, "linux.malfind");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  const json& marker = test::truth().at("rwx_marker");
  const int64_t pid = marker.at("pid").get<int64_t>();
  const uint64_t address = hex_value(marker.at("address").get<std::string>());
  const std::string text = marker.at("string").get<std::string>();
  size_t found = 0;
  for (const Row& row : table.rows) {
    uint64_t start = get<Address>(table, row, "start").value, end = get<Address>(table, row, "end").value;
    if (address < start || address >= end) continue;
    ++found;
    CHECK(get<int64_t>(table, row, "pid") == pid);
    CHECK(start == address);
    CHECK(end - start == marker.at("size").get<uint64_t>());
    CHECK(get<std::string>(table, row, "flags").substr(0, 3) == marker.at("prot").get<std::string>());
    std::string dump = get<std::string>(table, row, "hexdump");
    INFO(dump);
    CHECK(dump.rfind(hex_bytes(text.substr(0, 16)), 0) == 0);
    CHECK(dump.find("  " + text) != std::string::npos);
  }
  CHECK(found == 1);
}

// Each rig process's user_strings string, in the file proc_dump writes for
// the VMA that holds its address, at that address's offset.
void check_proc_dump(Session& session) {
  test::TempDir out("proc_dump");
  std::set<int64_t> listed;
  for (const auto& [pid, p] : mapped_processes()) listed.insert(pid);
  size_t checked = 0;
  for (const json& s : test::truth().at("user_strings")) {
    const int64_t pid = s.at("pid").get<int64_t>();
    if (!listed.count(pid)) continue;  // hidden from the task list
    const uint64_t address = hex_value(s.at("address").get<std::string>());
    PluginArgs args;
    args.add("pid", std::to_string(pid));
    args.add("dump-dir", out.path());
    args.add("address", s.at("address").get<std::string>());
    Table table = run(session, "linux.proc_dump", args);
    INFO("pid " << pid << ": " << all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 1);
    const Row& row = table.rows[0];
    const uint64_t start = get<Address>(table, row, "start").value;
    std::ifstream in(out.file(get<std::string>(table, row, "file")), std::ios::binary);
    std::string bytes((std::istreambuf_iterator<char>(in)), {});
    CHECK(bytes.size() == get<uint64_t>(table, row, "bytes"));
    const std::string wanted = s.at("string").get<std::string>();
    CHECK(bytes.compare(address - start, wanted.size(), wanted) == 0);
    ++checked;
  }
  CHECK(checked > 0);
}

// Each user process's program, at the path truth's exe gives.
void check_elfs(Session& session) {
  Table table = run(session, "linux.elfs");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<int64_t, std::set<std::string>> paths;
  for (const Row& row : table.rows) {
    paths[get<int64_t>(table, row, "pid")].insert(get<std::string>(table, row, "path"));
    CHECK(get<std::string>(table, row, "build_id").size() >= 16);
  }
  size_t checked = 0;
  for (const json& p : test::truth().at("processes")) {
    if (p.at("hidden").get<bool>() || p.at("kernel_thread").get<bool>() || !p.at("exe").is_string()) continue;
    INFO("pid " << p.at("pid") << " " << p.at("comm"));
    CHECK(paths[p.at("pid").get<int64_t>()].count(p.at("exe").get<std::string>()) == 1);
    ++checked;
  }
  CHECK(checked > 0);
}

}  // namespace

TEST_CASE("fixture: malfind / proc_dump / elfs against truth / each format and profile") {
  test::use_build_tree_cache();
  const std::string format = GENERATE(as<std::string>{}, "raw", "lime", "elf");
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO("image." << format << " with the " << profile << " profile");
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = test::fixture_profile(profile);
  Session session(options);
  SECTION("malfind") { check_malfind(session); }
  SECTION("proc_dump") { check_proc_dump(session); }
  SECTION("elfs") { check_elfs(session); }
}

TEST_CASE("fixture: maps equals truth's /proc/PID/maps / each format and profile") {
  test::use_build_tree_cache();
  const std::string format = GENERATE(as<std::string>{}, "raw", "lime", "elf");
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO("image." << format << " with the " << profile << " profile");
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = test::fixture_profile(profile);
  Session session(options);
  check_maps(session);
}

TEST_CASE("fixture: maps --pid keeps the processes asked for") {
  test::use_build_tree_cache();
  SessionOptions options;
  options.image = test::fixture("image.raw");
  options.profile = test::fixture_profile("isf");
  Session session(options);
  auto truth = mapped_processes();
  REQUIRE(truth.size() >= 2);
  auto first = truth.begin()->first, last = truth.rbegin()->first;
  PluginArgs args;
  args.add("pid", std::to_string(first) + "," + std::to_string(last));
  Table table = run(session, "linux.maps", args);
  std::set<int64_t> pids;
  for (const Row& row : table.rows) pids.insert(get<int64_t>(table, row, "pid"));
  CHECK(pids == std::set<int64_t>{first, last});
  CHECK(table.rows.size() == truth.at(first).at("maps").size() + truth.at(last).at("maps").size());
}
