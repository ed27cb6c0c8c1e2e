// The kernel helpers of core/linux on the real fixture (a 6.1 guest), with
// its ISF and with the profile generated from its BTF, against truth.json:
// the PID table through init_pid_ns.idr (an xarray), per-CPU runqueues and
// their CFS trees, the printk ring buffer.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/linux/idr.h"
#include "core/linux/percpu.h"
#include "core/linux/pid.h"
#include "core/linux/printk.h"
#include "core/linux/rbtree.h"
#include "core/linux/tasks.h"
#include "core/linux/xarray.h"
#include "core/session/session.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"

using namespace memscope;
using namespace memscope::linux_kernel;
using nlohmann::json;

namespace {

std::string text_of(const Warnings& warnings) {
  std::string out;
  for (const std::string& line : warnings.lines()) out += line + "\n";
  return out;
}

uint64_t hex_value(const json& j) { return std::stoull(j.get<std::string>(), nullptr, 16); }

struct Fixture {
  explicit Fixture(const std::string& profile) {
    test::use_build_tree_cache();
    SessionOptions options;
    options.image = test::fixture("image.raw");
    options.profile = test::fixture_profile(profile);
    session = std::make_unique<Session>(options);
    view = std::make_unique<KernelView>(kernel_view(*session));
  }
  std::unique_ptr<Session> session;
  std::unique_ptr<KernelView> view;
};

// dmesg prints a timestamp as seconds with six decimals.
std::string dmesg_seconds(uint64_t ns) {
  char text[32];
  std::snprintf(text, sizeof text, "%llu.%06llu", static_cast<unsigned long long>(ns / 1'000'000'000),
                static_cast<unsigned long long>(ns % 1'000'000'000 / 1000));
  return text;
}

}  // namespace

TEST_CASE("fixture helpers: the PID table holds every truth process, the hidden one included") {
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO(profile << " profile");
  Fixture f(profile);
  PidTable table(*f.view);
  CHECK(table.source() == "init_pid_ns.idr");
  XArrayWalker tree(f.view->profile());
  CHECK(tree.encoding() == XArrayEncoding::kXArray);
  Warnings warnings;
  std::map<int64_t, uint64_t> tasks;
  for (const PidTableEntry& e : table.entries(warnings)) tasks[e.nr] = e.task;
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  for (const json& p : test::truth().at("processes")) {
    const int64_t pid = p.at("pid").get<int64_t>();
    INFO("pid " << pid << " " << p.at("comm"));
    REQUIRE(tasks.count(pid) == 1);
    CHECK(tasks[pid] == hex_value(p.at("task_struct")));
  }
}

TEST_CASE("fixture helpers: per-CPU runqueues, their current tasks and CFS trees") {
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO(profile << " profile");
  Fixture f(profile);
  Warnings warnings;
  PerCpu percpu(*f.view, warnings);
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  CHECK(percpu.cpus().size() == test::truth().at("cpu").at("count").get<size_t>());
  TaskReader reader(*f.view);
  for (unsigned cpu : percpu.cpus()) {
    Object rq = percpu.object("runqueues", "rq", cpu);
    CHECK(rq["cpu"].as_u64() == cpu);
    // The idle task of each CPU is swapper/<cpu>, pid 0.
    Task idle = reader.read(rq["idle"].pointer(), warnings);
    CHECK(idle.tid == 0);
    CHECK(idle.comm == "swapper/" + std::to_string(cpu));
    Task curr = reader.read(rq["curr"].pointer(), warnings);
    CHECK(curr.comm.has_value());
    std::vector<Object> waiting =
        rbtree_entries(rq["cfs"]["tasks_timeline"], "sched_entity", "run_node", "cfs runqueue", warnings);
    CHECK(waiting.size() <= 64);
    CHECK(warnings.empty());
  }
}

TEST_CASE("fixture helpers: the printk ring buffer holds every line of truth's dmesg tail, the last included") {
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO(profile << " profile");
  Fixture f(profile);
  KernelLog log(*f.view);
  CHECK(log.source() == "prb");
  Warnings warnings;
  std::vector<LogRecord> records = log.records(warnings);
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  std::multiset<std::pair<std::string, std::string>> lines;  // (timestamp, text) of every line
  for (const LogRecord& r : records) {
    size_t from = 0;
    while (from <= r.text.size()) {
      size_t end = r.text.find('\n', from);
      if (end == std::string::npos) end = r.text.size();
      lines.insert({dmesg_seconds(r.timestamp_ns), r.text.substr(from, end - from)});
      from = end + 1;
    }
  }
  for (const json& line : test::truth().at("dmesg_tail")) {
    INFO(line.dump());
    CHECK(lines.count({line.at("timestamp").get<std::string>(), line.at("text").get<std::string>()}) == 1);
  }
  CHECK(std::is_sorted(records.begin(), records.end(),
                       [](const LogRecord& a, const LogRecord& b) { return a.sequence < b.sequence; }));
}

TEST_CASE("fixture helpers: prog_idr walks without trouble") {
  Fixture f("isf");
  IdrWalker idr(f.view->profile());
  Warnings warnings;
  std::vector<IdrEntry> entries = idr.entries(f.view->symbol("prog_idr", "idr"), "prog_idr", warnings);
  CHECK(warnings.empty());
  for (const IdrEntry& e : entries) CHECK(e.pointer != 0);
}
