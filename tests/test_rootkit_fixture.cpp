// The rootkit-hunting plugins on the real fixture, in each format (raw,
// LiME, ELF core), with the fixture's ISF and with a profile generated from
// its BTF, against truth.json: the guest ran a module (rig_hide) that
// unlinked itself from the module list and one process (rig_ghost) from the
// task list; truth's `hidden` block says what was done.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdio>
#include <map>
#include <set>

#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/table_cells.h"

using namespace memscope;
using test::all_warnings;
using nlohmann::json;

namespace {

Table run(Session& session, const std::string& name, const PluginArgs& args = {}) {
  PluginResult result = run_plugin(*find_plugin(name), session, args);
  INFO(name << ": " << result.error);
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

uint64_t hex_value(const json& j) { return std::stoull(j.get<std::string>(), nullptr, 16); }

const json& hidden_process() { return test::truth().at("hidden").at("process"); }
const json& hidden_module() { return test::truth().at("hidden").at("module"); }

void check_psscan(Session& session) {
  Table table = run(session, "linux.psscan");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<uint64_t, const Row*> rows;
  for (const Row& row : table.rows) rows[get<Address>(table, row, "offset").value] = &row;
  const uint64_t ghost = hex_value(hidden_process().at("task_struct"));
  // Every truth process, at its task_struct, hidden exactly when truth says.
  for (const json& p : test::truth().at("processes")) {
    const uint64_t address = hex_value(p.at("task_struct"));
    INFO("pid " << p.at("pid") << " " << p.at("comm"));
    REQUIRE(rows.count(address) == 1);
    const Row& row = *rows[address];
    CHECK(get<int64_t>(table, row, "pid") == p.at("pid").get<int64_t>());
    CHECK(get<int64_t>(table, row, "ppid") == p.at("ppid").get<int64_t>());
    CHECK(get<bool>(table, row, "in_task_list") == p.at("in_task_list").get<bool>());
    CHECK(get<bool>(table, row, "hidden") == p.at("hidden").get<bool>());
    CHECK(get<bool>(table, row, "in_pid_table"));
    CHECK(get<bool>(table, row, "carved"));
    CHECK_FALSE(get<bool>(table, row, "exited"));
  }
  // Exactly one hidden task, the one truth names; no exited task is hidden,
  // and exited tasks are dead, seen by the carve alone.
  size_t hidden = 0, exited = 0;
  for (const Row& row : table.rows) {
    if (get<bool>(table, row, "hidden")) {
      ++hidden;
      CHECK(get<Address>(table, row, "offset").value == ghost);
    }
    if (get<bool>(table, row, "exited")) {
      ++exited;
      INFO("exited task " << get<int64_t>(table, row, "pid"));
      CHECK(get<bool>(table, row, "carved"));
      CHECK_FALSE(get<bool>(table, row, "in_task_list"));
      CHECK_FALSE(get<bool>(table, row, "in_pid_table"));
      CHECK_FALSE(get<bool>(table, row, "hidden"));
      const std::string state = get<std::string>(table, row, "state");
      CHECK((state == "X" || state == "Z"));
    }
  }
  CHECK(hidden == 1);
  CHECK(exited >= 1);  // the guest ran short-lived commands whose task_structs remain
}

void check_hidden_processes(Session& session) {
  Table table = run(session, "linux.hidden_processes");
  CHECK(table.warnings.empty());
  REQUIRE(table.rows.size() == 1);
  const Row& row = table.rows[0];
  CHECK(get<int64_t>(table, row, "pid") == hidden_process().at("pid").get<int64_t>());
  CHECK(get<std::string>(table, row, "comm") == hidden_process().at("comm").get<std::string>());
  CHECK(get<Address>(table, row, "offset").value == hex_value(hidden_process().at("task_struct")));
  CHECK(get<bool>(table, row, "hidden"));
}

void check_hidden_modules(Session& session) {
  Table table = run(session, "linux.hidden_modules");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  REQUIRE(table.rows.size() == 1);
  const Row& row = table.rows[0];
  CHECK(get<std::string>(table, row, "name") == hidden_module().at("name").get<std::string>());
  CHECK(get<Address>(table, row, "offset").value == hex_value(hidden_module().at("struct_module")));
  CHECK(get<Address>(table, row, "base").value == hex_value(hidden_module().at("base")));
  CHECK(get<uint64_t>(table, row, "size") == hidden_module().at("size").get<uint64_t>());
  CHECK(get<bool>(table, row, "hidden"));
  auto found_by = get<std::vector<std::string>>(table, row, "found_by");
  CHECK(std::count(found_by.begin(), found_by.end(), "list") == 0);
  // truth: still in sysfs, and mod_tree and its memory untouched.
  CHECK(std::count(found_by.begin(), found_by.end(), "sysfs") == hidden_module().at("still_in_sysfs").get<bool>());
  CHECK(std::count(found_by.begin(), found_by.end(), "mod_tree") == 1);
  CHECK(std::count(found_by.begin(), found_by.end(), "memory") == 1);
}

void check_check_modules(Session& session) {
  Table table = run(session, "linux.check_modules");
  CHECK(table.warnings.empty());
  // Every module truth lists in sysfs: the listed ones agree, the hidden one is flagged.
  std::set<std::string> flagged;
  for (const Row& row : table.rows) {
    flagged.insert(get<std::string>(table, row, "name"));
    CHECK_FALSE(get<bool>(table, row, "in_list"));
    CHECK(get<bool>(table, row, "in_sysfs"));
  }
  CHECK(flagged == std::set<std::string>{hidden_module().at("name").get<std::string>()});
}

void check_kmsg(Session& session) {
  Table table = run(session, "linux.kmsg");
  CHECK(table.warnings.empty());
  std::multiset<std::tuple<std::string, int64_t, std::string>> lines;
  for (const Row& row : table.rows) {
    uint64_t ns = get<Seconds>(table, row, "timestamp").nanoseconds;
    char seconds[32];
    std::snprintf(seconds, sizeof seconds, "%llu.%06llu", static_cast<unsigned long long>(ns / 1'000'000'000),
                  static_cast<unsigned long long>(ns % 1'000'000'000 / 1000));
    lines.insert({seconds, static_cast<int64_t>(get<uint64_t>(table, row, "level")), get<std::string>(table, row, "text")});
  }
  for (const json& line : test::truth().at("dmesg_tail")) {
    INFO(line.dump());
    CHECK(lines.count({line.at("timestamp").get<std::string>(), line.at("level").get<int64_t>(),
                       line.at("text").get<std::string>()}) == 1);
  }
  // The newest line of truth's tail is among the last rows (messages logged
  // after truth printed it may follow).
  const std::string last = test::truth().at("dmesg_tail").back().at("text").get<std::string>();
  bool found = false;
  for (size_t i = table.rows.size() >= 5 ? table.rows.size() - 5 : 0; i < table.rows.size(); ++i)
    found = found || get<std::string>(table, table.rows[i], "text") == last;
  CHECK(found);
}

void check_ebpf(Session& session) {
  Table table = run(session, "linux.ebpf");
  CHECK(table.warnings.empty());
  for (const Row& row : table.rows) CHECK(get<uint64_t>(table, row, "id") > 0);
}

}  // namespace

TEST_CASE("fixture: psscan / hidden_processes / hidden_modules / check_modules / kmsg / ebpf against truth / each format and profile") {
  test::use_build_tree_cache();
  const std::string format = GENERATE(as<std::string>{}, "raw", "lime", "elf");
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO("image." << format << " with the " << profile << " profile");
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = test::fixture_profile(profile);
  Session session(options);
  SECTION("psscan") { check_psscan(session); }
  SECTION("hidden_processes") { check_hidden_processes(session); }
  SECTION("hidden_modules") { check_hidden_modules(session); }
  SECTION("check_modules") { check_check_modules(session); }
  SECTION("kmsg") { check_kmsg(session); }
  SECTION("ebpf") { check_ebpf(session); }
}
