// The rootkit-hunting plugins (psscan, hidden_processes, hidden_modules,
// check_modules, kmsg, ebpf) on synthetic kernels: every row against what
// the builder put in, the field variants of older kernels, kernels whose
// profile lacks a view, and damaged or hostile memory.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <random>
#include <set>
#include <sstream>

#include "cli/render/render.h"
#include "core/linux/task_carver.h"
#include "core/linux/task_views.h"
#include "core/util/hex.h"
#include "support/synthetic_session.h"
#include "support/table_cells.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using namespace memscope::linux_kernel;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::SyntheticProcess;
using test::SyntheticSession;

namespace {

Table run(SyntheticSession& image, const std::string& plugin, const PluginArgs& args = {}) {
  PluginResult result = image.run(plugin, args);
  INFO(plugin << ": " << result.error);
  REQUIRE(result.ok);
  return std::move(result.table);
}

bool flag(const Table& table, const Row& row, const std::string& key) { return cell<bool>(table, row, key).value(); }

bool warned(const Table& table, const std::string& text) { return all_warnings(table).find(text) != std::string::npos; }

// psscan's rows by task address.
std::map<uint64_t, const Row*> by_offset(const Table& table) {
  std::map<uint64_t, const Row*> out;
  for (const Row& row : table.rows) out[cell<Address>(table, row, "offset")->value] = &row;
  return out;
}

struct Expected {
  int64_t pid, tid;
  bool listed, hidden;
};

// Every task the builder made (threads and idle tasks included), with what
// psscan must say of it.
std::map<uint64_t, Expected> expected_tasks(const SyntheticLinux& kernel) {
  std::map<uint64_t, Expected> out;
  for (const SyntheticProcess& p : kernel.processes()) {
    out[kernel.task_address(p.pid)] = {p.pid, p.pid, !p.hidden, p.hidden};
    for (int tid : p.extra_threads) out[kernel.task_address(tid)] = {p.pid, tid, !p.hidden, p.hidden};
  }
  for (unsigned cpu = 0; cpu < kernel.options().cpus; ++cpu)
    out[kernel.idle_task_address(cpu)] = {0, 0, cpu == 0, false};  // init_task anchors the list
  return out;
}

void check_psscan(SyntheticLinux& kernel, const Table& table, bool carved) {
  INFO(all_warnings(table));
  auto rows = by_offset(table);
  const auto expected = expected_tasks(kernel);
  for (const auto& [address, e] : expected) {
    INFO("task " << hex(address) << " pid " << e.pid << " tid " << e.tid);
    REQUIRE(rows.count(address) == 1);
    const Row& row = *rows[address];
    CHECK(cell<int64_t>(table, row, "pid") == e.pid);
    CHECK(cell<int64_t>(table, row, "tid") == e.tid);
    CHECK(flag(table, row, "in_task_list") == e.listed);
    CHECK(flag(table, row, "in_pid_table") == (e.tid != 0));
    CHECK(flag(table, row, "hidden") == e.hidden);
    CHECK_FALSE(flag(table, row, "exited"));
  }
  std::set<uint64_t> exited;
  for (const SyntheticProcess& p : kernel.exited_tasks()) {
    const uint64_t address = kernel.exited_task_address(p.pid);
    INFO("exited task " << p.pid << " " << p.comm);
    if (!carved) {
      CHECK(rows.count(address) == 0);
      continue;
    }
    REQUIRE(rows.count(address) == 1);
    const Row& row = *rows[address];
    CHECK(cell<int64_t>(table, row, "pid") == p.pid);
    CHECK(cell<std::string>(table, row, "comm") == p.comm.substr(0, 15));
    CHECK(cell<int64_t>(table, row, "ppid") == p.ppid);
    CHECK(cell<std::string>(table, row, "state") == "X");
    CHECK(flag(table, row, "carved"));
    CHECK(flag(table, row, "exited"));
    CHECK_FALSE(flag(table, row, "hidden"));
    exited.insert(address);
  }
  // Nothing else: no row the builder did not make.
  CHECK(table.rows.size() == expected.size() + exited.size());
  // The carve finds every task in the slab (init_task lies in the kernel
  // image, whose direct-map alias its list links do not name).
  for (const auto& [address, e] : expected)
    if (address != kernel.idle_task_address(0)) CHECK(flag(table, *rows[address], "carved") == carved);
}

std::vector<SyntheticProcess> with_running_hidden() {
  std::vector<SyntheticProcess> out = SyntheticLinux::default_processes();
  for (SyntheticProcess& p : out) {
    if (p.pid == 300) {  // the hidden process runs on CPU 1
      p.state = 0;
      p.running_on_cpu = 1;
    }
    if (p.pid == 205) p.state = 0;  // runnable, waiting on CPU 1's CFS tree
  }
  SyntheticProcess waiting;
  waiting.pid = 301;
  waiting.ppid = 1;
  waiting.comm = "ghost_waiting";
  waiting.kernel_thread = true;
  waiting.hidden = true;
  waiting.state = 0;  // runnable on CPU 301 % 2 = 1
  out.push_back(waiting);
  return out;
}

}  // namespace

// --- psscan / hidden_processes -----------------------------------------------------

TEST_CASE("psscan: every task of every view, the hidden one flagged, exited ones carved / each format") {
  const std::string format = GENERATE(as<std::string>{}, "lime", "raw", "elf");
  SyntheticLinux kernel;
  SyntheticSession image(kernel, format);
  Table table = run(image, "linux.psscan");
  check_psscan(kernel, table, true);
  CHECK(table.warnings.empty());
}

TEST_CASE("psscan: field variants of older kernels (pid hash, radix tree, thread_group, state, one CPU)") {
  SyntheticOptions options;
  SECTION("pid hash, thread_group, long state") {
    options.pid_table = test::PidTableKind::kPidHash;
    options.thread_list = test::ThreadListKind::kThreadGroup;
    options.task_state = test::TaskStateField::kState;
  }
  SECTION("radix tree IDR, one CPU, 64-slot nodes") {
    options.pid_table = test::PidTableKind::kRadixTree;
    options.cpus = 1;
    options.radix_slots = 64;
  }
  SECTION("eight CPUs") { options.cpus = 8; }
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.psscan");
  check_psscan(kernel, table, true);
}

TEST_CASE("psscan --no-carve: the kernel's views only, no exited tasks") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  PluginArgs args;
  args.set_flag("no-carve");
  Table table = run(image, "linux.psscan", args);
  check_psscan(kernel, table, false);
}

TEST_CASE("psscan --pid: only those processes, and a warning for a PID no task has") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  PluginArgs args;
  args.add("pid", "202");
  args.add("pid", "4242");
  Table table = run(image, "linux.psscan", args);
  std::set<int64_t> tids;
  for (const Row& row : table.rows) {
    CHECK(cell<int64_t>(table, row, "pid") == 202);
    tids.insert(*cell<int64_t>(table, row, "tid"));
  }
  CHECK(tids == std::set<int64_t>{202, 203, 204});
  CHECK(warned(table, "4242"));
}

TEST_CASE("hidden_processes: exactly the hidden process, with psscan's columns") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  Table hidden = run(image, "linux.hidden_processes");
  Table all = run(image, "linux.psscan");
  REQUIRE(hidden.columns.size() == all.columns.size());
  for (size_t i = 0; i < all.columns.size(); ++i) {
    CHECK(hidden.columns[i].key == all.columns[i].key);
    CHECK(hidden.columns[i].type == all.columns[i].type);
  }
  REQUIRE(hidden.rows.size() == 1);
  CHECK(cell<int64_t>(hidden, hidden.rows[0], "pid") == 300);
  CHECK(cell<std::string>(hidden, hidden.rows[0], "comm") == "ghost");
  CHECK(cell<Address>(hidden, hidden.rows[0], "offset")->value == kernel.task_address(300));
  // The same cells as psscan's row for it.
  const Row& row = *by_offset(all)[kernel.task_address(300)];
  CHECK(hidden.rows[0].cells == row.cells);
}

TEST_CASE("psscan: hidden tasks seen on a runqueue, and the views one by one") {
  SyntheticOptions options;
  options.processes = with_running_hidden();
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  TaskViews views(image.view());
  Warnings warnings;
  std::vector<uint64_t> queued = views.runqueues(warnings);
  CHECK(std::count(queued.begin(), queued.end(), kernel.task_address(300)) == 1);  // CPU 1's curr
  CHECK(std::count(queued.begin(), queued.end(), kernel.task_address(301)) == 1);  // in its CFS tree
  CHECK(std::count(queued.begin(), queued.end(), kernel.task_address(205)) == 1);
  CHECK(std::count(queued.begin(), queued.end(), kernel.idle_task_address(0)) >= 1);  // CPU 0's curr and idle
  std::vector<uint64_t> children = views.children({kernel.idle_task_address(0)}, warnings);
  CHECK(std::count(children.begin(), children.end(), kernel.task_address(300)) == 1);
  CHECK(warnings.empty());
  Table table = run(image, "linux.hidden_processes");
  std::set<int64_t> pids;
  for (const Row& row : table.rows) {
    pids.insert(*cell<int64_t>(table, row, "pid"));
    CHECK(flag(table, row, "on_runqueue"));
  }
  CHECK(pids == std::set<int64_t>{300, 301});
}

TEST_CASE("psscan: a profile without the PID table or the runqueues says so and still finds the hidden process") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel, "lime", [](nlohmann::json& profile) {
    profile["symbols"].erase("init_pid_ns");
    profile["symbols"].erase("runqueues");
  });
  Table table = run(image, "linux.hidden_processes");
  INFO(all_warnings(table));
  CHECK(warned(table, "the PID table is not used"));
  CHECK(warned(table, "init_pid_ns"));
  CHECK(warned(table, "runqueues are not used"));
  // The parent's children list still holds it.
  REQUIRE(table.rows.size() == 1);
  CHECK(cell<int64_t>(table, table.rows[0], "pid") == 300);
  CHECK_FALSE(flag(table, table.rows[0], "in_pid_table"));
}

TEST_CASE("psscan: a PID table with a cycle is bounded, named, and the rest intact") {
  SyntheticLinux kernel;
  kernel.pid_table_cycle();
  SyntheticSession image(kernel);
  Table table = run(image, "linux.psscan");
  CHECK(warned(table, "node " + hex(kernel.pid_table_nodes().front()) + " is reached twice"));
  auto rows = by_offset(table);
  for (const auto& [address, e] : expected_tasks(kernel)) {
    REQUIRE(rows.count(address) == 1);
    CHECK(flag(table, *rows[address], "hidden") == e.hidden);
  }
}

TEST_CASE("psscan: a task only the carve finds whose state is alive is neither exited nor hidden and is named in a warning") {
  // A sleeping process unlinked from every view the kernel keeps (task
  // list, PID table, children list) and from no runqueue: its memory says
  // it did not exit, so it must not be filed with the exited tasks.
  SyntheticOptions options;
  options.exited = SyntheticLinux::default_exited();
  SyntheticProcess unlinked = options.exited->front();
  unlinked.pid = 160;
  unlinked.comm = "unlinked_all";
  unlinked.state = 1;  // TASK_INTERRUPTIBLE
  unlinked.exit_state = 0;
  options.exited->push_back(unlinked);
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.psscan");
  auto rows = by_offset(table);
  const uint64_t address = kernel.exited_task_address(160);
  REQUIRE(rows.count(address) == 1);
  const Row& row = *rows[address];
  CHECK(cell<std::string>(table, row, "state") == "S");
  CHECK(flag(table, row, "carved"));
  CHECK_FALSE(flag(table, row, "exited"));
  CHECK_FALSE(flag(table, row, "hidden"));
  CHECK(warned(table, "task " + hex(address) + " (pid 160 unlinked_all) is found only by the carve"));
  CHECK(warned(table, "its state (S) is not an exited task's"));
  // The dead ones are still exited, without a warning of their own.
  for (const SyntheticProcess& p : SyntheticLinux::default_exited()) {
    INFO("exited task " << p.pid);
    CHECK(flag(table, *rows[kernel.exited_task_address(p.pid)], "exited"));
    CHECK_FALSE(warned(table, "pid " + std::to_string(p.pid) + " " + p.comm));
  }
}

TEST_CASE("task carve: random pages and forged task_structs give no task, the real ones stay") {
  SyntheticLinux kernel;
  // 4 MiB of random bytes in otherwise unused direct-mapped memory.
  std::mt19937_64 random(42);
  std::vector<uint8_t> noise(4 << 20);
  for (size_t i = 0; i < noise.size(); i += 8) {
    uint64_t v = random();
    std::memcpy(noise.data() + i, &v, 8);
  }
  const uint64_t region = 0x5800000;
  kernel.space().put(region, noise.data(), noise.size());
  // A copy of a real task_struct whose list links lead nowhere: its bytes
  // pass, its validation must not.
  const uint64_t task_size = kernel.offset_of("task_struct", "comm") + 16;
  std::vector<uint8_t> copy(task_size);
  kernel.space().read(kernel.kernel_physical(kernel.task_address(201)), copy.data(), copy.size());
  const uint64_t forged = region + 0x10000;
  const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress;
  std::memcpy(copy.data() + kernel.offset_of("task_struct", "tasks.next"), &wild, 8);
  std::memcpy(copy.data() + kernel.offset_of("task_struct", "tasks.prev"), &wild, 8);
  kernel.space().put(forged, copy.data(), copy.size());
  SyntheticSession image(kernel);

  TaskCarver carver(image.view());
  CHECK(carver.plausible_bytes(copy.data()));
  std::string why;
  CHECK_FALSE(carver.validate(kernel.options().page_offset_base + forged, &why));
  CHECK(why == "tasks links do not point back");
  Warnings warnings;
  CarveResult carved = carver.carve(image.session().physical(), kernel.options().page_offset_base, warnings);
  CHECK(warnings.empty());
  CHECK(carved.rejected >= 1);
  std::set<uint64_t> found;
  for (const CarvedTask& t : carved.tasks) found.insert(t.address);
  for (const auto& [address, e] : expected_tasks(kernel))
    if (address != kernel.idle_task_address(0)) CHECK(found.count(address) == 1);
  for (const CarvedTask& t : carved.tasks) CHECK((t.physical < region || t.physical >= region + noise.size()));

  Table table = run(image, "linux.psscan");
  CHECK(table.rows.size() == expected_tasks(kernel).size() + kernel.exited_tasks().size());
}

TEST_CASE("task carve: candidates over the per-chunk cap are counted and reported, not kept") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  TaskCarver carver(image.view());
  Warnings warnings;
  CarveOptions options;
  options.max_candidates_per_chunk = 2;
  CarveResult carved = carver.carve(image.session().physical(), kernel.options().page_offset_base, warnings, options);
  CHECK(carved.stats.dropped_hits > 0);
  CHECK(carved.tasks.size() < expected_tasks(kernel).size());
  std::string text;
  for (const std::string& line : warnings.lines()) text += line;
  CHECK(text.find("candidates dropped") != std::string::npos);
}

// --- modules ---------------------------------------------------------------------

TEST_CASE("hidden_modules: exactly the unlinked module, with the views that still hold it / each layout") {
  const auto layout = GENERATE(test::ModuleLayoutKind::kMemArray, test::ModuleLayoutKind::kCoreLayout,
                               test::ModuleLayoutKind::kModuleCore);
  SyntheticOptions options;
  options.module_layout = layout;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.hidden_modules");
  INFO(all_warnings(table));
  REQUIRE(table.rows.size() == 1);
  const Row& row = table.rows[0];
  CHECK(cell<std::string>(table, row, "name") == "rootkit");
  CHECK(cell<Address>(table, row, "offset")->value == kernel.module_address("rootkit"));
  CHECK(cell<Address>(table, row, "base")->value == kernel.module_base("rootkit"));
  CHECK(cell<uint64_t>(table, row, "size") == kernel.modules().back().proc_size());
  CHECK(cell<std::string>(table, row, "state") == "Live");
  CHECK(flag(table, row, "hidden"));
  auto found_by = cell<std::vector<std::string>>(table, row, "found_by").value();
  if (layout == test::ModuleLayoutKind::kModuleCore) {
    CHECK(found_by == std::vector<std::string>{"sysfs", "memory"});
    CHECK(warned(table, "no mod_tree"));
  } else {
    CHECK(found_by == std::vector<std::string>{"sysfs", "mod_tree", "memory"});
    CHECK(table.warnings.empty());
  }
}

TEST_CASE("hidden_modules --all: every module, each with the views that hold it") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  PluginArgs args;
  args.set_flag("all");
  Table table = run(image, "linux.hidden_modules", args);
  std::map<std::string, std::vector<std::string>> found_by;
  for (const Row& row : table.rows)
    found_by[*cell<std::string>(table, row, "name")] = *cell<std::vector<std::string>>(table, row, "found_by");
  REQUIRE(found_by.size() == kernel.modules().size());
  for (const auto& m : kernel.modules()) {
    INFO(m.name);
    if (m.hidden)
      CHECK(found_by[m.name] == std::vector<std::string>{"sysfs", "mod_tree", "memory"});
    else
      CHECK(found_by[m.name] == std::vector<std::string>{"list", "sysfs", "mod_tree", "memory"});
  }
}

TEST_CASE("hidden_modules: a module also gone from sysfs and mod_tree is still found in module memory") {
  SyntheticLinux kernel;
  const uint64_t mod = kernel.module_address("rootkit");
  // kobject_del: off module_kset's list (its neighbours joined, the entry
  // self-linked); and its mod_tree nodes no longer name it.
  const uint64_t entry = mod + kernel.offset_of("module", "mkobj.kobj.entry");
  SyntheticSession probe(kernel);
  Object e = probe.view().object("list_head", entry);
  const uint64_t prev = e["prev"].pointer(), next = e["next"].pointer();
  kernel.poke_kernel(prev + kernel.offset_of("list_head", "next"), &next, 8);
  kernel.poke_kernel(next + kernel.offset_of("list_head", "prev"), &prev, 8);
  kernel.poke_kernel(entry + kernel.offset_of("list_head", "next"), &entry, 8);
  kernel.poke_kernel(entry + kernel.offset_of("list_head", "prev"), &entry, 8);
  const uint64_t zero = 0;
  for (uint64_t type = 0; type < 7; ++type)
    kernel.poke_kernel(mod + kernel.offset_of("module", "mem") + type * kernel.size_of("module_memory") +
                           kernel.offset_of("module_memory", "mtn.mod"),
                       &zero, 8);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.hidden_modules");
  REQUIRE(table.rows.size() == 1);
  CHECK(cell<std::string>(table, table.rows[0], "name") == "rootkit");
  CHECK(cell<std::vector<std::string>>(table, table.rows[0], "found_by") == std::vector<std::string>{"memory"});
}

TEST_CASE("check_modules: the module sysfs has and the list lacks, built-in modules aside") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  Table table = run(image, "linux.check_modules");
  CHECK(table.warnings.empty());
  REQUIRE(table.rows.size() == 1);
  CHECK(cell<std::string>(table, table.rows[0], "name") == "rootkit");
  CHECK(cell<Address>(table, table.rows[0], "offset")->value == kernel.module_address("rootkit"));
  CHECK_FALSE(flag(table, table.rows[0], "in_list"));
  CHECK(flag(table, table.rows[0], "in_sysfs"));
}

TEST_CASE("check_modules: a profile without module_kset says so") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel, "lime", [](nlohmann::json& profile) { profile["symbols"].erase("module_kset"); });
  Table table = run(image, "linux.check_modules");
  CHECK(warned(table, "no module_kset"));
  CHECK(warned(table, "nothing to compare"));
  CHECK(table.rows.empty());
}

// --- kmsg and ebpf -------------------------------------------------------------------

TEST_CASE("kmsg: one row per line of every record, the newest included / ring buffer and log_buf") {
  const auto kind = GENERATE(test::LogBufferKind::kRingBuffer, test::LogBufferKind::kLogBuf);
  SyntheticOptions options;
  options.log_buffer = kind;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.kmsg");
  CHECK(table.warnings.empty());
  std::vector<std::tuple<uint64_t, uint64_t, std::string>> expected, got;
  for (const auto& r : kernel.log_retained()) {
    std::istringstream lines(r.text);
    for (std::string line; std::getline(lines, line);) expected.emplace_back(r.timestamp_ns, r.level, line);
  }
  for (const Row& row : table.rows)
    got.emplace_back(cell<Seconds>(table, row, "timestamp")->nanoseconds, *cell<uint64_t>(table, row, "level"),
                     *cell<std::string>(table, row, "text"));
  CHECK(got == expected);
  // The caller as dmesg prints it; facility from the record.
  const Row& cpu_row = table.rows[4];
  CHECK(cell<std::string>(table, cpu_row, "caller") == "C1");
  CHECK(cell<std::string>(table, table.rows.back(), "text") == "rootkit: unlinked task pid=300");
  CHECK(cell<uint64_t>(table, table.rows[table.rows.size() - 2], "facility") == 1);
}

TEST_CASE("kmsg: timestamps render as dmesg prints them, and as numbers in JSON") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  Table table = run(image, "linux.kmsg");
  CHECK(cell_text(table.rows.back().cells[0]) == "2.840704");
  CHECK(cell_text(table.rows[1].cells[0]) == "0.004012");
  std::ostringstream json;
  render_json(table, json);
  CHECK(json.str().find("\"timestamp\": 2.840704") != std::string::npos);
}

TEST_CASE("kmsg: ring buffer indexes that lie give a warning naming the ring, and what can be proven") {
  SyntheticLinux kernel;
  kernel.set_log_indexes(0x3fffffffffffffffull, 5);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.kmsg");
  CHECK(warned(table, "ring buffer at " + hex(kernel.log_ring_address())));
  // The rest intact: every line, from the descriptors that prove their records.
  std::vector<std::string> expected, got;
  for (const auto& r : kernel.log_retained()) {
    std::istringstream lines(r.text);
    for (std::string line; std::getline(lines, line);) expected.push_back(line);
  }
  for (const Row& row : table.rows) got.push_back(*cell<std::string>(table, row, "text"));
  CHECK(got == expected);
}

TEST_CASE("ebpf: every loaded program with its type, name, tag, load time and maps") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  Table table = run(image, "linux.ebpf");
  CHECK(table.warnings.empty());
  REQUIRE(table.rows.size() == kernel.bpf_programs().size());
  std::map<uint32_t, std::string> map_names;
  for (const auto& m : kernel.bpf_maps()) map_names[m.id] = m.name;
  for (size_t i = 0; i < table.rows.size(); ++i) {
    const Row& row = table.rows[i];
    const auto& p = kernel.bpf_programs()[i];
    INFO("program " << p.id);
    CHECK(cell<uint64_t>(table, row, "id") == p.id);
    CHECK(cell<Address>(table, row, "offset")->value == kernel.bpf_prog_address(p.id));
    std::string type = p.type.substr(std::string("BPF_PROG_TYPE_").size());
    std::transform(type.begin(), type.end(), type.begin(), [](char c) { return static_cast<char>(std::tolower(c)); });
    CHECK(cell<std::string>(table, row, "type") == type);
    CHECK(cell<std::string>(table, row, "name") == p.name);
    std::string tag;
    for (int b = 0; b < 8; ++b) {
      char digits[3];
      std::snprintf(digits, sizeof digits, "%02x", static_cast<unsigned>((p.tag >> (8 * b)) & 0xff));
      tag += digits;
    }
    CHECK(cell<std::string>(table, row, "tag") == tag);
    CHECK(cell<Seconds>(table, row, "loaded_at")->nanoseconds == p.load_time_ns);
    std::vector<std::string> maps;
    for (uint32_t id : p.maps) maps.push_back(std::to_string(id) + ":" + map_names[id]);
    CHECK(cell<std::vector<std::string>>(table, row, "maps") == maps);
  }
}

TEST_CASE("ebpf: a used_map_cnt out of range is refused with a warning naming the program") {
  SyntheticLinux kernel;
  SyntheticSession probe(kernel);
  const uint64_t aux = probe.view().object("bpf_prog", kernel.bpf_prog_address(4))["aux"].pointer();
  const uint32_t absurd = 1u << 30;
  kernel.poke_kernel(aux + kernel.offset_of("bpf_prog_aux", "used_map_cnt"), &absurd, 4);
  SyntheticSession image(kernel);
  Table table = run(image, "linux.ebpf");
  CHECK(warned(table, "BPF program 4 at " + hex(kernel.bpf_prog_address(4))));
  CHECK(warned(table, "used_map_cnt 1073741824"));
  CHECK(table.rows.size() == kernel.bpf_programs().size());
}
