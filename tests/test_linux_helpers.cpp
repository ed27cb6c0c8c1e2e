// The kernel helpers of core/linux (hlist, xarray / radix tree, idr, pid,
// rbtree, percpu, printk) on synthetic kernels: every variant the profile
// can name, against what the builder put in, and structures a rootkit or a
// smeared dump has damaged (cycles, wild pointers, lying indexes).
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "core/linux/hlist.h"
#include "core/linux/idr.h"
#include "core/linux/percpu.h"
#include "core/linux/pid.h"
#include "core/linux/printk.h"
#include "core/linux/rbtree.h"
#include "core/linux/xarray.h"
#include "core/util/hex.h"
#include "profiles/isf/isf_loader.h"
#include "support/buffer_space.h"
#include "support/synthetic_session.h"

using namespace memscope;
using namespace memscope::linux_kernel;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::SyntheticProcess;
using test::SyntheticSession;

namespace {

std::string text_of(const Warnings& warnings) {
  std::string out;
  for (const std::string& line : warnings.lines()) out += line + "\n";
  return out;
}

bool mentions(const Warnings& warnings, const std::string& text) {
  return text_of(warnings).find(text) != std::string::npos;
}

// Every task the builder made, by tid (threads included, init_task not).
std::map<int64_t, uint64_t> built_tasks(const SyntheticLinux& kernel) {
  std::map<int64_t, uint64_t> out;
  for (const SyntheticProcess& p : kernel.processes()) {
    out[p.pid] = kernel.task_address(p.pid);
    for (int tid : p.extra_threads) out[tid] = kernel.task_address(tid);
  }
  return out;
}

std::map<int64_t, uint64_t> table_tasks(const std::vector<PidTableEntry>& entries) {
  std::map<int64_t, uint64_t> out;
  for (const PidTableEntry& e : entries) out[e.nr] = e.task;
  return out;
}

// Processes with some running: pid 10 on CPU 0, 11 on CPU 1, and runnable
// ones waiting on both runqueues.
std::vector<SyntheticProcess> busy_processes() {
  std::vector<SyntheticProcess> out;
  auto add = [&](int pid, int ppid, const char* comm, uint32_t state, int cpu = -1) {
    SyntheticProcess p;
    p.pid = pid;
    p.ppid = ppid;
    p.comm = comm;
    p.kernel_thread = pid != 1;
    p.state = state;
    p.running_on_cpu = cpu;
    if (!p.kernel_thread) p.argv = {comm};
    out.push_back(p);
  };
  add(1, 0, "init", 1);
  add(2, 0, "kthreadd", 1);
  add(10, 2, "on_cpu0", 0, 0);
  add(11, 2, "on_cpu1", 0, 1);
  for (int pid = 20; pid < 33; ++pid) add(pid, 2, ("runnable" + std::to_string(pid)).c_str(), 0);
  add(40, 2, "sleeper", 1);
  return out;
}

}  // namespace

// --- xarray / radix tree, idr, pid -------------------------------------------------

TEST_CASE("pid table: every task by number through init_pid_ns.idr on an xarray and on a radix tree") {
  const auto kind = GENERATE(test::PidTableKind::kXArray, test::PidTableKind::kRadixTree, test::PidTableKind::kPidHash);
  const unsigned slots = GENERATE(16u, 64u);
  SyntheticOptions options;
  options.pid_table = kind;
  options.radix_slots = slots;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  PidTable table(image.view());
  INFO("table " << table.source() << ", " << slots << " slots");
  CHECK(table.source() == (kind == test::PidTableKind::kPidHash ? "pid_hash" : "init_pid_ns.idr"));
  Warnings warnings;
  std::vector<PidTableEntry> entries = table.entries(warnings);
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  CHECK(table_tasks(entries) ==
        built_tasks(kernel));  // the hidden process too: a rootkit unlinked it from the list only
  for (const PidTableEntry& e : entries) {
    CHECK(e.pid == kernel.pid_address(static_cast<int>(e.nr)));
    CHECK(table.number(e.pid, warnings) == e.nr);
  }
  CHECK(std::is_sorted(entries.begin(), entries.end(),
                       [](const PidTableEntry& a, const PidTableEntry& b) { return a.nr < b.nr; }));
}

TEST_CASE("xarray: the walker decodes the encoding the profile names and the node geometry it gives") {
  const auto kind = GENERATE(test::PidTableKind::kXArray, test::PidTableKind::kRadixTree);
  SyntheticOptions options;
  options.pid_table = kind;
  options.radix_slots = 16;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  XArrayWalker walker(image.view().profile());
  CHECK(walker.encoding() ==
        (kind == test::PidTableKind::kXArray ? XArrayEncoding::kXArray : XArrayEncoding::kRadixTree));
  CHECK(walker.slots_per_node() == 16);
  // pid 300 needs three levels of 16-slot nodes.
  CHECK(kernel.pid_table_nodes().size() >= 3);
}

TEST_CASE("idr: ids count from idr_base, and BPF's prog_idr holds every program") {
  SyntheticLinux kernel;
  SyntheticSession image(kernel);
  IdrWalker idr(image.view().profile());
  Warnings warnings;
  std::vector<IdrEntry> entries = idr.entries(image.view().symbol("prog_idr", "idr"), "prog_idr", warnings);
  CHECK(warnings.empty());
  std::map<uint64_t, uint64_t> got, expected;
  for (const IdrEntry& e : entries) got[e.id] = e.pointer;
  for (const auto& p : kernel.bpf_programs()) expected[p.id] = kernel.bpf_prog_address(p.id);
  CHECK(got == expected);
}

TEST_CASE("pid table with a cycle: the walk is bounded, names the node, and keeps every entry") {
  const auto kind = GENERATE(test::PidTableKind::kXArray, test::PidTableKind::kRadixTree);
  SyntheticOptions options;
  options.pid_table = kind;
  SyntheticLinux kernel(options);
  kernel.pid_table_cycle();
  SyntheticSession image(kernel);
  PidTable table(image.view());
  Warnings warnings;
  std::vector<PidTableEntry> entries = table.entries(warnings);
  INFO(text_of(warnings));
  CHECK(mentions(warnings, "node " + hex(kernel.pid_table_nodes().front()) + " is reached twice"));
  CHECK(table_tasks(entries) == built_tasks(kernel));
}

TEST_CASE("pid table: a wild node pointer costs its subtree only, with a warning naming the node") {
  SyntheticLinux kernel;
  const auto nodes = kernel.pid_table_nodes();
  REQUIRE(nodes.size() >= 2);
  // The root's first slot (pids 0-255) -> a node in unmapped memory.
  const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress + 2;
  kernel.poke_kernel(nodes.front() + kernel.offset_of("xa_node", "slots"), &wild, 8);
  SyntheticSession image(kernel);
  Warnings warnings;
  std::vector<PidTableEntry> entries = PidTable(image.view()).entries(warnings);
  INFO(text_of(warnings));
  CHECK(mentions(warnings,
                 "cannot read PID table (init_pid_ns.idr): node " + hex(SyntheticLinux::kUnmappedKernelAddress)));
  // What lies in the root's other slots is still there: pid 300.
  CHECK(table_tasks(entries).count(300) == 1);
  CHECK(table_tasks(entries).count(1) == 0);
}

TEST_CASE("xarray: a node whose shift does not follow its parent's is refused by name") {
  SyntheticLinux kernel;
  const auto nodes = kernel.pid_table_nodes();
  const uint8_t bad_shift = 40;
  kernel.poke_kernel(nodes.back(), &bad_shift, 1);  // a bottom node claims a huge shift
  SyntheticSession image(kernel);
  Warnings warnings;
  PidTable(image.view()).entries(warnings);
  CHECK(mentions(warnings, "node " + hex(nodes.back()) + ": shift 40"));
}

// The radix tree of kernels before 4.7: the height in the root, plain
// pointers inside the tree. Built by hand on a flat space.
TEST_CASE("radix tree before 4.7: height from the root, untagged inner pointers") {
  using nlohmann::json;
  auto base = [](int size, bool is_signed, const char* kind) {
    return json{{"size", size}, {"signed", is_signed}, {"kind", kind}, {"endian", "little"}};
  };
  auto named = [](const char* kind, const char* name) { return json{{"kind", kind}, {"name", name}}; };
  auto field = [](json type, int offset) { return json{{"type", std::move(type)}, {"offset", offset}}; };
  json isf;
  isf["metadata"] = {{"format", "6.2.0"}, {"producer", {{"name", "handmade"}, {"version", "1"}}}};
  isf["base_types"] = {
      {"unsigned int", base(4, false, "int")}, {"void", base(0, false, "void")}, {"pointer", base(8, false, "int")}};
  json voidp = {{"kind", "pointer"}, {"subtype", named("base", "void")}};
  isf["user_types"] = {
      {"radix_tree_root",
       {{"kind", "struct"},
        {"size", 16},
        {"fields", {{"height", field(named("base", "unsigned int"), 0)}, {"rnode", field(voidp, 8)}}}}},
      {"radix_tree_node",
       {{"kind", "struct"},
        {"size", 8 + 4 * 8},
        {"fields",
         {{"path", field(named("base", "unsigned int"), 0)},
          {"slots", field({{"kind", "array"}, {"count", 4}, {"subtype", voidp}}, 8)}}}}}};
  isf["enums"] = json::object();
  isf["symbols"] = json::object();
  auto profile = parse_isf_text(isf.dump(), "radix tree before 4.7");
  test::BufferSpace space;
  // Height 2, 4 slots: root node at 0x1000, children at 0x2000 (indexes
  // 0-3) and 0x3000 (indexes 12-15).
  space.put_u64(0x100, 2);           // root.height
  space.put_u64(0x108, 0x1000 | 1);  // root.rnode, tagged
  space.put_u64(0x1000 + 8 + 0 * 8, 0x2000);
  space.put_u64(0x1000 + 8 + 3 * 8, 0x3000);
  space.put_u64(0x2000 + 8 + 1 * 8, 0xaaa0);
  space.put_u64(0x3000 + 8 + 2 * 8, 0xbbb0);
  space.put_u64(0x3000, 0);
  XArrayWalker walker(*profile);
  CHECK(walker.encoding() == XArrayEncoding::kRadixTreeHeight);
  Warnings warnings;
  auto entries = walker.entries(Object(*profile, space, "radix_tree_root", 0x100), "test tree", warnings);
  CHECK(warnings.empty());
  REQUIRE(entries.size() == 2);
  CHECK(entries[0].index == 1);
  CHECK(entries[0].entry == 0xaaa0);
  CHECK(entries[1].index == 14);
  CHECK(entries[1].entry == 0xbbb0);
}

// --- hlist ---------------------------------------------------------------------------

TEST_CASE("hlist: the pid hash's chains, a node with a bad pprev, and a chain with a cycle") {
  SyntheticOptions options;
  options.pid_table = test::PidTableKind::kPidHash;
  SyntheticLinux kernel(options);
  const uint64_t chain = kernel.offset_of("upid", "pid_chain");
  const uint64_t numbers = kernel.offset_of("pid", "numbers");
  const uint64_t next = kernel.offset_of("hlist_node", "next"), pprev = kernel.offset_of("hlist_node", "pprev");
  // pids 204 and 300 share bucket 12 (of 16): 300 was added last, so it
  // leads the chain and 204 follows it.
  const uint64_t node_300 = kernel.pid_address(300) + numbers + chain;
  const uint64_t node_204 = kernel.pid_address(204) + numbers + chain;
  SECTION("intact") {
    SyntheticSession image(kernel);
    Warnings warnings;
    PidTable table(image.view());
    CHECK(table.entries(warnings).size() == built_tasks(kernel).size());
    CHECK(warnings.empty());
  }
  SECTION("a pprev that does not point back") {
    const uint64_t bogus = 0xffff9a4d80001230ull;
    kernel.poke_kernel(node_204 + pprev, &bogus, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    auto entries = PidTable(image.view()).entries(warnings);
    CHECK(mentions(warnings, "node " + hex(node_204)));
    CHECK(mentions(warnings, "pprev is " + hex(bogus)));
    CHECK(entries.size() == built_tasks(kernel).size());  // still walked
  }
  SECTION("a chain that loops: bounded, the other chains intact") {
    kernel.poke_kernel(node_204 + next, &node_300, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    auto entries = PidTable(image.view()).entries(warnings);
    INFO(text_of(warnings));
    CHECK(mentions(warnings, "cycle, node " + hex(node_300) + " met twice"));
    CHECK(table_tasks(entries) == built_tasks(kernel));
  }
  SECTION("a wild next pointer costs the rest of its chain only") {
    const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress;
    kernel.poke_kernel(node_300 + next, &wild, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    auto tasks = table_tasks(PidTable(image.view()).entries(warnings));
    CHECK(mentions(warnings, "node " + hex(wild)));
    CHECK(tasks.count(204) == 0);
    CHECK(tasks.count(300) == 1);
    CHECK(tasks.size() == built_tasks(kernel).size() - 1);
  }
}

// --- rbtree and per-CPU ---------------------------------------------------------------

TEST_CASE("percpu: offsets, possible CPUs, and each CPU's copy of runqueues") {
  const unsigned cpus = GENERATE(1u, 2u, 5u);
  SyntheticOptions options;
  options.cpus = cpus;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Warnings warnings;
  PerCpu percpu(image.view(), warnings);
  CHECK(warnings.empty());
  CHECK(percpu.source() == "__cpu_possible_mask");
  REQUIRE(percpu.cpus().size() == cpus);
  for (unsigned cpu : percpu.cpus()) {
    CHECK(percpu.address("runqueues", cpu) == kernel.runqueue_address(cpu));
    CHECK(percpu.object("runqueues", "rq", cpu)["cpu"].as_u64() == cpu);
    CHECK(percpu.object("runqueues", "rq", cpu)["idle"].pointer() == kernel.idle_task_address(cpu));
  }
}

TEST_CASE("percpu: a CPU whose offset is forged is left out with a warning naming it") {
  SyntheticOptions options;
  options.cpus = 3;
  SyntheticLinux kernel(options);
  const uint64_t forged = 0x123456000;
  kernel.poke_kernel(kernel.symbol_address("__per_cpu_offset") + 8, &forged, 8);
  SyntheticSession image(kernel);
  Warnings warnings;
  PerCpu percpu(image.view(), warnings);
  CHECK(percpu.cpus() == std::vector<unsigned>{0, 2});
  CHECK(mentions(warnings, "CPU 1's offset " + hex(forged)));
}

TEST_CASE("rbtree: the CFS runqueue in order, and a tree with a cycle or a wild child") {
  SyntheticOptions options;
  options.processes = busy_processes();
  SyntheticLinux kernel(options);
  const uint64_t se = kernel.offset_of("task_struct", "se");
  const uint64_t run_node = kernel.offset_of("sched_entity", "run_node");
  std::vector<std::vector<uint64_t>> expected(2);
  for (const SyntheticProcess& p : kernel.processes())
    if (p.state == 0 && p.running_on_cpu < 0) expected[p.pid % 2].push_back(kernel.task_address(p.pid));
  auto timeline = [&](SyntheticSession& image, unsigned cpu) {
    Warnings ignored;
    return PerCpu(image.view(), ignored).object("runqueues", "rq", cpu)["cfs"]["tasks_timeline"];
  };
  SECTION("in order") {
    SyntheticSession image(kernel);
    for (unsigned cpu = 0; cpu < 2; ++cpu) {
      Warnings warnings;
      std::vector<uint64_t> got;
      for (const Object& e : rbtree_entries(timeline(image, cpu), "sched_entity", "run_node", "cfs", warnings))
        got.push_back(e.address() - se);
      CHECK(warnings.empty());
      CHECK(got == expected[cpu]);  // ascending vruntime, as the builder keyed them
    }
  }
  SECTION("a child pointing back at the root") {
    // The deepest-left node's left child -> the root: a cycle.
    SyntheticSession probe(kernel);
    Warnings ignored;
    std::vector<uint64_t> nodes = rbtree_nodes(timeline(probe, 0), "cfs", ignored);
    REQUIRE(nodes.size() >= 3);
    const uint64_t root = timeline(probe, 0)["rb_root"]["rb_node"].pointer();
    kernel.poke_kernel(nodes.front() + kernel.offset_of("rb_node", "rb_left"), &root, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    std::vector<uint64_t> got = rbtree_nodes(timeline(image, 0), "cfs", warnings);
    CHECK(mentions(warnings, "node " + hex(root) + " is reached twice"));
    CHECK(got == nodes);
  }
  SECTION("a wild child") {
    SyntheticSession probe(kernel);
    Warnings ignored;
    std::vector<uint64_t> nodes = rbtree_nodes(timeline(probe, 0), "cfs", ignored);
    const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress;
    kernel.poke_kernel(nodes.back() + kernel.offset_of("rb_node", "rb_right"), &wild, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    std::vector<uint64_t> got = rbtree_nodes(timeline(image, 0), "cfs", warnings);
    CHECK(mentions(warnings, "cannot read node " + hex(wild)));
    CHECK(got == nodes);
    (void)run_node;
  }
  SECTION("depth limit") {
    SyntheticSession image(kernel);
    Warnings warnings;
    RbTreeOptions limits;
    limits.max_depth = 2;
    std::vector<uint64_t> got = rbtree_nodes(timeline(image, 0), "cfs", warnings, limits);
    CHECK(mentions(warnings, "deeper than 2 levels"));
    CHECK(got.size() < expected[0].size());
  }
}

// --- printk ----------------------------------------------------------------------------

namespace {

void check_records(const std::vector<LogRecord>& got, const std::vector<test::SyntheticLogRecord>& expected) {
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    INFO("record " << i << ": " << expected[i].text);
    CHECK(got[i].text == expected[i].text);
    CHECK(got[i].timestamp_ns == expected[i].timestamp_ns);
    CHECK(got[i].level == expected[i].level);
    CHECK(got[i].facility == expected[i].facility);
    CHECK(got[i].finalized == expected[i].finalized);
    if (got[i].caller_id) CHECK(*got[i].caller_id == expected[i].caller_id);
  }
}

std::vector<test::SyntheticLogRecord> long_log(size_t count) {
  std::vector<test::SyntheticLogRecord> out;
  for (size_t i = 0; i < count; ++i) {
    test::SyntheticLogRecord r;
    r.timestamp_ns = 1'000'000 * i;
    r.level = static_cast<unsigned>(i % 8);
    r.caller_id = static_cast<uint32_t>(i);
    r.text = "record " + std::to_string(i) + std::string(i % 37, 'x');
    out.push_back(r);
  }
  out.back().finalized = false;
  return out;
}

}  // namespace

TEST_CASE("printk: every record the buffer holds, the newest (not finalized) included") {
  const auto kind = GENERATE(test::LogBufferKind::kRingBuffer, test::LogBufferKind::kLogBuf);
  SyntheticOptions options;
  options.log_buffer = kind;
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  KernelLog log(image.view());
  CHECK(log.source() == (kind == test::LogBufferKind::kRingBuffer ? "prb" : "log_buf"));
  Warnings warnings;
  std::vector<LogRecord> records = log.records(warnings);
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  CHECK(kernel.log_retained().size() == kernel.log().size());
  check_records(records, kernel.log_retained());
  CHECK(records.back().text == "rootkit: unlinked task pid=300");
  CHECK_FALSE(records.back().finalized);
}

TEST_CASE("printk: a log that outgrew its buffer, wrapping data blocks and ids") {
  const auto kind = GENERATE(test::LogBufferKind::kRingBuffer, test::LogBufferKind::kLogBuf);
  // 45 records: the ring's first lap ends in the buffer, with the block
  // that wraps at the end of the first lap (data positions start one ring
  // size below 0, so its begin is near 2^64 and its next just above 0)
  // still held; 300: many laps later.
  const size_t written = GENERATE(size_t{45}, size_t{300});
  INFO(written << " records");
  SyntheticOptions options;
  options.log_buffer = kind;
  options.log_buffer_bits = 10;  // 1 KiB of text, 32 descriptors
  options.log = long_log(written);
  SyntheticLinux kernel(options);
  SyntheticSession image(kernel);
  Warnings warnings;
  std::vector<LogRecord> records = KernelLog(image.view()).records(warnings);
  INFO(text_of(warnings));
  CHECK(warnings.empty());
  REQUIRE(kernel.log_retained().size() > 5);
  CHECK(kernel.log_retained().size() < written);
  check_records(records, kernel.log_retained());
  CHECK(records.back().text == options.log.back().text);
}

TEST_CASE("printk: a ring buffer whose indexes lie is read as far as its descriptors prove, with a warning") {
  SyntheticOptions options;
  options.log_buffer_bits = 10;
  // More records than descriptors: the ring has wrapped, and slots hold
  // ids of later wraps.
  options.log = long_log(45);
  SyntheticLinux kernel(options);
  REQUIRE(kernel.log_retained().size() > 5);
  REQUIRE(kernel.log_retained().size() < 45);
  SECTION("a head far beyond the tail") {
    kernel.set_log_indexes(0x3fffffffffffffffull, 5);
    SyntheticSession image(kernel);
    Warnings warnings;
    std::vector<LogRecord> records = KernelLog(image.view()).records(warnings);
    CHECK(mentions(warnings, "more than the ring's 32 descriptors"));
    CHECK(mentions(warnings, "ring buffer at " + hex(kernel.log_ring_address())));
    // The descriptors themselves still say which record each holds.
    check_records(records, kernel.log_retained());
  }
  SECTION("indexes that match no descriptor") {
    kernel.set_log_indexes(0x123456789, 0x123456780);
    SyntheticSession image(kernel);
    Warnings warnings;
    std::vector<LogRecord> records = KernelLog(image.view()).records(warnings);
    CHECK(mentions(warnings, "holds its own id"));
    check_records(records, kernel.log_retained());
  }
  SECTION("descriptors that all lie too: nothing is made up") {
    SyntheticSession probe(kernel);
    Object ring = probe.view().object("printk_ringbuffer", kernel.log_ring_address());
    const uint64_t descs = ring["desc_ring"]["descs"].pointer();
    const uint64_t desc_size = probe.view().profile().size_of("prb_desc");
    const uint64_t state_offset = kernel.offset_of("prb_desc", "state_var");
    for (uint64_t index = 0; index < 32; ++index) {
      const uint64_t foreign = (uint64_t{2} << 62) | (index + 1) % 32;  // finalized, another slot's id
      kernel.poke_kernel(descs + index * desc_size + state_offset, &foreign, 8);
    }
    kernel.set_log_indexes(0x3fffffffffffffffull, 5);
    SyntheticSession image(kernel);
    Warnings warnings;
    CHECK(KernelLog(image.view()).records(warnings).empty());
    CHECK(mentions(warnings, "more than the ring's 32 descriptors"));
  }
  SECTION("a text block that belongs to another record") {
    SyntheticSession probe(kernel);
    const auto& view = probe.view();
    Object ring = view.object("printk_ringbuffer", kernel.log_ring_address());
    const uint64_t data = ring["text_data_ring"]["data"].pointer();
    const uint64_t forged = 0x1234;
    // The first block of the ring (a record's id) overwritten.
    kernel.poke_kernel(data, &forged, 8);
    SyntheticSession image(kernel);
    Warnings warnings;
    std::vector<LogRecord> records = KernelLog(image.view()).records(warnings);
    CHECK(mentions(warnings, "belongs to record id 0x1234"));
    CHECK(records.size() == kernel.log_retained().size() - 1);
  }
}

TEST_CASE("printk: log_buf with indexes out of the buffer is refused by name") {
  SyntheticOptions options;
  options.log_buffer = test::LogBufferKind::kLogBuf;
  SyntheticLinux kernel(options);
  kernel.set_log_indexes(1u << 20, 0);
  SyntheticSession image(kernel);
  Warnings warnings;
  std::vector<LogRecord> records = KernelLog(image.view()).records(warnings);
  CHECK(mentions(warnings, "log_next_idx 1048576"));
  // The unfinished line in `cont` is still read.
  REQUIRE(records.size() == 1);
  CHECK(records[0].text == kernel.log().back().text);
}

TEST_CASE("printk: caller ids as dmesg prints them") {
  CHECK(printk_caller_text(201) == "T201");
  CHECK(printk_caller_text(0x80000001u) == "C1");
}
