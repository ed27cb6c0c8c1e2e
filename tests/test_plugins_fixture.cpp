// The Linux process and module plugins on the real fixture image, in each
// format (raw, LiME, ELF core), with the fixture's ISF and with a profile
// generated from its BTF, against truth.json.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

using test::use_build_tree_cache;

std::string profile_for(const std::string& kind) { return test::fixture_profile(kind); }

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

// truth.json's processes that are on the task list.
std::map<int64_t, json> listed_processes() {
  std::map<int64_t, json> out;
  for (const json& p : test::truth().at("processes"))
    if (!p.at("hidden").get<bool>()) out[p.at("pid").get<int64_t>()] = p;
  return out;
}

// task_struct.comm against truth's name: truth read /proc, which gives
// kernel threads their full name (comm keeps 15 characters) and kworkers
// their current workqueue after a '-' ("kworker/0:0-events").
bool same_comm(const std::string& ours, const std::string& truth) {
  if (ours == truth.substr(0, 15)) return true;
  return ours.rfind("kworker/", 0) == 0 && truth.rfind(ours + "-", 0) == 0;
}

void check_pslist(Session& session) {
  Table table = run(session, "linux.pslist");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto truth = listed_processes();
  std::set<int64_t> expected, got;
  for (const auto& [pid, p] : truth) expected.insert(pid);
  for (const Row& row : table.rows) got.insert(get<int64_t>(table, row, "pid"));
  CHECK(got == expected);
  CHECK(table.rows.size() == expected.size());
  for (const Row& row : table.rows) {
    int64_t pid = get<int64_t>(table, row, "pid");
    if (!truth.count(pid)) continue;
    const json& p = truth.at(pid);
    INFO("pid " << pid << " " << p.at("comm"));
    CHECK(same_comm(get<std::string>(table, row, "comm"), p.at("comm").get<std::string>()));
    CHECK(get<int64_t>(table, row, "ppid") == p.at("ppid").get<int64_t>());
    CHECK(get<uint64_t>(table, row, "uid") == p.at("uid").get<uint64_t>());
    CHECK(get<uint64_t>(table, row, "gid") == p.at("gid").get<uint64_t>());
    CHECK(get<uint64_t>(table, row, "euid") == p.at("euid").get<uint64_t>());
    CHECK(get<uint64_t>(table, row, "threads") == p.at("threads").get<uint64_t>());
    CHECK(get<bool>(table, row, "kernel_thread") == p.at("kernel_thread").get<bool>());
    CHECK(get<int64_t>(table, row, "tid") == pid);
    // /proc/PID/stat's start time is in clock ticks (USER_HZ = 100).
    CHECK(get<uint64_t>(table, row, "start_time") / 10'000'000 == p.at("start_time_ticks").get<uint64_t>());
    if (p.at("task_struct").is_string())
      CHECK(get<Address>(table, row, "offset").value ==
            std::stoull(p.at("task_struct").get<std::string>(), nullptr, 16));
    // The rig processes sleep; init was running the truth script then.
    if (p.at("rig").get<bool>()) CHECK(get<std::string>(table, row, "state") == p.at("state").get<std::string>());
  }
}

void check_psaux(Session& session) {
  Table table = run(session, "linux.psaux");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto truth = listed_processes();
  CHECK(table.rows.size() == truth.size());
  bool saw_long = false;
  for (const Row& row : table.rows) {
    int64_t pid = get<int64_t>(table, row, "pid");
    if (!truth.count(pid)) continue;
    const json& p = truth.at(pid);
    INFO("pid " << pid << " " << p.at("comm"));
    auto argv = get<std::vector<std::string>>(table, row, "args");
    const std::vector<std::string> as_ps{"[" + get<std::string>(table, row, "comm") + "]"};
    if (p.at("kernel_thread").get<bool>()) {
      CHECK(argv == as_ps);
    } else if (p.at("cmdline").empty()) {
      CHECK((argv == as_ps || argv == std::vector<std::string>{}));  // a zombie has no memory left
    } else {
      CHECK(argv == p.at("cmdline").get<std::vector<std::string>>());
      size_t bytes = 0;
      for (const std::string& a : argv) bytes += a.size() + 1;
      saw_long = saw_long || bytes > 4096;
    }
  }
  CHECK(saw_long);  // truth has a process with more than 4096 bytes of arguments
}

void check_envars(Session& session) {
  Table table = run(session, "linux.envars");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<int64_t, std::vector<std::string>> environ;
  std::map<int64_t, std::string> marker;
  for (const Row& row : table.rows) {
    int64_t pid = get<int64_t>(table, row, "pid");
    std::string key = get<std::string>(table, row, "key"), value = get<std::string>(table, row, "value");
    environ[pid].push_back(key + "=" + value);
    if (key == "RIG_MARKER") marker[pid] = value;
  }
  for (const auto& [pid, p] : listed_processes()) {
    INFO("pid " << pid << " " << p.at("comm"));
    if (p.at("rig").get<bool>()) CHECK(marker[pid] == p.at("env_marker").get<std::string>());
    CHECK(environ[pid] == p.at("environ").get<std::vector<std::string>>());
  }
}

void check_lsmod(Session& session) {
  Table table = run(session, "linux.lsmod");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  std::map<std::string, json> expected;
  for (const json& m : test::truth().at("modules"))
    if (!m.at("hidden").get<bool>()) expected[m.at("name").get<std::string>()] = m;
  std::set<std::string> names;
  for (const Row& row : table.rows) {
    std::string name = get<std::string>(table, row, "name");
    names.insert(name);
    if (!expected.count(name)) continue;
    const json& m = expected.at(name);
    INFO(name);
    CHECK(get<uint64_t>(table, row, "size") == m.at("size").get<uint64_t>());
    CHECK(get<int64_t>(table, row, "refcount") == m.at("refcount").get<int64_t>());
    CHECK(get<std::string>(table, row, "state") == m.at("state").get<std::string>());
    // truth gives "base" for some modules, "address" (the same: the core text) for all.
    const std::string base = m.at(m.contains("base") ? "base" : "address").get<std::string>();
    CHECK(get<Address>(table, row, "base").value == std::stoull(base, nullptr, 16));
  }
  std::set<std::string> expected_names;
  for (const auto& [name, m] : expected) expected_names.insert(name);
  CHECK(names == expected_names);
  CHECK(table.rows.size() == expected.size());
}

void check_pstree(Session& session) {
  Table table = run(session, "linux.pstree");
  CHECK(table.warnings.empty());
  auto truth = listed_processes();
  std::map<int64_t, int64_t> parent;
  std::function<void(const Row&, int64_t)> visit = [&](const Row& row, int64_t up) {
    int64_t pid = get<int64_t>(table, row, "pid");
    CHECK(parent.count(pid) == 0);
    parent[pid] = up;
    for (const Row& c : row.children) visit(c, pid);
  };
  for (const Row& r : table.rows) visit(r, 0);
  CHECK(parent.size() == truth.size());
  for (const auto& [pid, p] : truth) CHECK(parent[pid] == p.at("ppid").get<int64_t>());
}

}  // namespace

TEST_CASE("fixture: pslist / psaux / envars / lsmod and pstree against truth / each format and profile") {
  use_build_tree_cache();
  const std::string format = GENERATE(as<std::string>{}, "raw", "lime", "elf");
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO("image." << format << " with the " << profile << " profile");
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = profile_for(profile);
  Session session(options);
  SECTION("pslist") { check_pslist(session); }
  SECTION("psaux") { check_psaux(session); }
  SECTION("envars") { check_envars(session); }
  SECTION("lsmod") { check_lsmod(session); }
  SECTION("pstree") { check_pstree(session); }
}

TEST_CASE("fixture: --threads and --pid") {
  use_build_tree_cache();
  SessionOptions options;
  options.image = test::fixture("image.elf");
  options.profile = profile_for("isf");
  Session session(options);
  // Two processes chosen from truth.json: init, and the listed user
  // process with the most threads (the thread rows must add up to truth's
  // thread counts).
  const json* busiest = nullptr;
  for (const json& p : test::truth().at("processes"))
    if (!p.at("kernel_thread").get<bool>() && !p.at("hidden").get<bool>() && p.at("pid").get<int64_t>() != 1 &&
        (!busiest || p.at("threads").get<int64_t>() > busiest->at("threads").get<int64_t>()))
      busiest = &p;
  REQUIRE(busiest);
  const int64_t other = busiest->at("pid").get<int64_t>();
  int64_t expected_rows = busiest->at("threads").get<int64_t>();
  for (const json& p : test::truth().at("processes"))
    if (p.at("pid").get<int64_t>() == 1) expected_rows += p.at("threads").get<int64_t>();
  PluginArgs args;
  args.set_flag("threads");
  args.add("pid", "1");
  args.add("pid", std::to_string(other));
  Table table = run(session, "linux.pslist", args);
  std::set<int64_t> pids;
  for (const Row& row : table.rows) pids.insert(get<int64_t>(table, row, "pid"));
  CHECK(pids == std::set<int64_t>{1, other});
  CHECK(static_cast<int64_t>(table.rows.size()) == expected_rows);
}
