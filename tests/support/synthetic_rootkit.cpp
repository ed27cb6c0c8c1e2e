// What the rootkit-hunting plugins read, built into the synthetic image:
// the PID table (init_pid_ns.idr over an xarray or a radix tree, or the old
// pid hash) with each task's struct pid, per-CPU areas with runqueues (idle
// tasks, curr, a CFS tree), the kernel log (the lockless ring buffer with
// wrapping data blocks, or log_buf with `cont`), sysfs's module kobjects
// and the module tree, BPF programs and maps in their IDRs, and the
// task_structs of exited tasks left in memory.
//
// As everywhere in the synthetic image, the offsets are unlike any real
// kernel's, and every field is placed where the profile says.
#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <stdexcept>

#include "core/util/hex.h"
#include "support/synthetic_layout.h"

namespace memscope::test {
namespace {

using namespace synthetic;

// Statics in the kernel image (offsets from _text).
constexpr uint64_t kInitPidNsOffset = 0x4c0000;
constexpr uint64_t kModuleKsetVarOffset = 0x4c0200;
constexpr uint64_t kModTreeOffset = 0x4c0300;
constexpr uint64_t kProgIdrOffset = 0x4c0400;
constexpr uint64_t kMapIdrOffset = 0x4c0440;
constexpr uint64_t kNrCpuIdsOffset = 0x4c0500;
constexpr uint64_t kPossibleMaskOffset = 0x4c0510;
constexpr uint64_t kPerCpuOffsetOffset = 0x4c0600;  // __per_cpu_offset[kCpuSlots]
constexpr uint64_t kLogVarOffset = 0x4c0800;        // prb, or log_buf
constexpr uint64_t kLogBufLenOffset = 0x4c0808;
constexpr uint64_t kLogFirstIdxOffset = 0x4c080c;
constexpr uint64_t kLogNextIdxOffset = 0x4c0810;
constexpr uint64_t kLogFirstSeqOffset = 0x4c0818;
constexpr uint64_t kLogNextSeqOffset = 0x4c0820;
constexpr uint64_t kPrbStaticOffset = 0x4c0900;
constexpr uint64_t kPidHashVarOffset = 0x4c0a00;
constexpr uint64_t kPidHashShiftOffset = 0x4c0a08;
constexpr uint64_t kContOffset = 0x4c1000;
// The per-CPU section is linked at 0, as on x86_64 SMP kernels.
constexpr uint64_t kPerCpuSize = 0x30000;
constexpr uint64_t kThisCpuOffLink = 0x1b0c8;
constexpr uint64_t kRunqueuesLink = 0x2c0c0;
constexpr uint64_t kCpuSlots = 64;  // NR_CPUS
constexpr unsigned kPidHashShift = 4;

constexpr uint64_t kListPoison2 = 0xdead000000000122ull;  // include/linux/poison.h
constexpr uint32_t kPfKthread = 0x00200000, kPfIdle = 0x2;
constexpr uint64_t kDescIdMask = (uint64_t{1} << 62) - 1;
constexpr uint64_t kContBytes = 0x100;

uint64_t align8(uint64_t n) { return (n + 7) & ~uint64_t{7}; }

}  // namespace

struct SyntheticLinux::RootkitState {
  std::map<int, uint64_t> pid_structs;
  std::vector<uint64_t> idle_tasks, runqueues;
  std::map<int, uint64_t> exited;
  struct Node {
    uint64_t address;
    unsigned shift;
  };
  std::vector<Node> pid_nodes;
  uint64_t pid_root = 0;  // the struct xarray / radix_tree_root of init_pid_ns.idr
  uint64_t ring = 0;
  std::vector<SyntheticLogRecord> retained;
  std::map<uint32_t, uint64_t> progs, maps;

  bool xarray(const SyntheticLinux& k) const { return k.options_.pid_table == PidTableKind::kXArray; }
  unsigned pid_types(const SyntheticLinux& k) const { return xarray(k) ? 4 : 3; }
  std::string node_type(const SyntheticLinux& k) const { return xarray(k) ? "xa_node" : "radix_tree_node"; }
  uint64_t encode(const SyntheticLinux& k, uint64_t node) const { return node + (xarray(k) ? 2 : 1); }

  void zero(SyntheticLinux& k, uint64_t address, uint64_t size) {
    std::vector<uint8_t> zeros(size);
    k.put_kernel(address, zeros.data(), zeros.size());
  }
  uint64_t string(SyntheticLinux& k, const std::string& s) {
    uint64_t at = k.slab_alloc(s.size() + 1);
    k.put_kernel(at, s.c_str(), s.size() + 1);
    return at;
  }
  uint64_t cred(SyntheticLinux& k, uint32_t uid) {
    uint64_t c = k.slab_alloc(k.layout_->record_size("cred"));
    const char* value = k.options_.plain_uid ? "" : ".val";
    k.put_field(c, "cred", "usage.counter", 1);
    for (const char* f : {"uid", "gid", "suid", "sgid", "euid", "egid"})
      k.put_field(c, "cred", std::string(f) + value, uid);
    return c;
  }
  // The task's link for pid type `type` (pid_links[type], or pids[type].node).
  uint64_t task_link(SyntheticLinux& k, uint64_t task, unsigned type) {
    if (xarray(k)) return task + k.offset_of("task_struct", "pid_links") + type * k.layout_->record_size("hlist_node");
    return task + k.offset_of("task_struct", "pids") + type * k.layout_->record_size("pid_link") +
           k.offset_of("pid_link", "node");
  }

  // A balanced binary tree of the rb_nodes `nodes` (in key order): what an
  // in-order walk must give back. Returns the root.
  uint64_t rb_tree(SyntheticLinux& k, const std::vector<uint64_t>& nodes, size_t lo, size_t hi, uint64_t parent) {
    if (lo >= hi) return 0;
    size_t mid = lo + (hi - lo) / 2;
    uint64_t node = nodes[mid];
    k.put_field(node, "rb_node", "rb_left", rb_tree(k, nodes, lo, mid, node));
    k.put_field(node, "rb_node", "rb_right", rb_tree(k, nodes, mid + 1, hi, node));
    k.put_field(node, "rb_node", "__rb_parent_color", parent | 1);  // black
    return node;
  }

  // A radix tree (xarray or radix_tree_root encoding) of `entries` under the
  // root object at `root`; returns the head entry to store in the root.
  uint64_t radix_tree(SyntheticLinux& k, uint64_t root, const std::map<uint64_t, uint64_t>& entries,
                      std::vector<Node>* nodes) {
    if (entries.empty()) return 0;
    const uint64_t slots = k.options_.radix_slots;
    const unsigned chunk_shift = static_cast<unsigned>(__builtin_ctzll(slots));
    const std::string type = node_type(k);
    const uint64_t size = k.layout_->record_size(type);
    const uint64_t max = entries.rbegin()->first;
    unsigned top = 0;
    while (top + chunk_shift < 64 && (max >> top) >= slots) top += chunk_shift;
    std::function<uint64_t(unsigned, uint64_t, uint64_t, uint64_t)> make = [&](unsigned shift, uint64_t base,
                                                                               uint64_t parent, uint64_t offset) {
      uint64_t node = k.slab_alloc(size);
      if (nodes) nodes->push_back({node, shift});
      k.put_field(node, type, "shift", shift);
      k.put_field(node, type, "offset", offset);
      k.put_field(node, type, "parent", parent);
      k.put_field(node, type, xarray(k) ? "array" : "root", root);
      uint64_t count = 0;
      for (uint64_t slot = 0; slot < slots; ++slot) {
        uint64_t lo = base + (slot << shift);
        uint64_t hi = lo + ((uint64_t{1} << shift) - 1);
        auto it = entries.lower_bound(lo);
        if (it == entries.end() || it->first > hi) continue;
        ++count;
        uint64_t value = shift == 0 ? it->second : encode(k, make(shift - chunk_shift, lo, node, slot));
        k.put_kernel_u64(node + k.offset_of(type, "slots") + slot * 8, value);
      }
      k.put_field(node, type, "count", count);
      return node;
    };
    return encode(k, make(top, 0, 0, 0));
  }

  void build_idr(SyntheticLinux& k, uint64_t idr, uint32_t base, const std::map<uint64_t, uint64_t>& by_id,
                 std::vector<Node>* nodes) {
    zero(k, idr, k.layout_->record_size("idr"));
    k.put_field(idr, "idr", "idr_base", base);
    std::map<uint64_t, uint64_t> by_index;
    for (const auto& [id, pointer] : by_id) by_index[id - base] = pointer;
    const uint64_t root = idr + k.offset_of("idr", "idr_rt");
    if (nodes) pid_root = root;
    const uint64_t head = radix_tree(k, root, by_index, nodes);
    k.put_field(root, xarray(k) ? "xarray" : "radix_tree_root", xarray(k) ? "xa_head" : "rnode", head);
  }

  void build_per_cpu(SyntheticLinux& k);
  void build_pid_table(SyntheticLinux& k);
  void build_exited(SyntheticLinux& k);
  void build_runqueues(SyntheticLinux& k);
  void build_ring_log(SyntheticLinux& k);
  void build_log_buf(SyntheticLinux& k);
  void build_module_tables(SyntheticLinux& k);
  void build_bpf(SyntheticLinux& k);
};

// --- Defaults ------------------------------------------------------------------

std::vector<SyntheticLogRecord> SyntheticLinux::default_log() {
  std::vector<SyntheticLogRecord> out;
  auto add = [&](uint64_t ns, unsigned level, std::string text) -> SyntheticLogRecord& {
    SyntheticLogRecord r;
    r.timestamp_ns = ns;
    r.level = level;
    r.text = std::move(text);
    r.caller_id = 0;
    out.push_back(r);
    return out.back();
  };
  add(0, 5, "Linux version 5.15.0-memscope-synthetic (builder@memscope)");
  add(4'012'345, 6, "Command line: console=ttyS0 panic=-1");
  add(812'000'001, 6, "first of two lines\nsecond of two lines").caller_id = 1;
  add(900'000'999, 4, "e1000: link up").caller_id = 0x80000001;  // from CPU 1, outside task context
  SyntheticLogRecord& partial = add(1'200'000'000, 6, "probing devices:");
  partial.caller_id = 201;
  partial.flags = 0;
  SyntheticLogRecord& cont = add(1'200'400'000, 6, " done");
  cont.caller_id = 202;  // another task: a record of its own, marked LOG_CONT
  cont.flags = 8 | 2;
  add(2'000'000'000, 6, "user message").facility = 1;
  SyntheticLogRecord& open = add(2'840'704'000, 6, "rootkit: unlinked task pid=300");
  open.caller_id = 300;
  open.flags = 0;
  open.finalized = false;
  return out;
}

std::vector<SyntheticProcess> SyntheticLinux::default_exited() {
  SyntheticProcess user;
  user.pid = 150;
  user.ppid = 1;
  user.comm = "cron_job";
  user.uid = user.gid = user.euid = user.egid = 0;
  user.state = 0x80;       // TASK_DEAD
  user.exit_state = 0x10;  // EXIT_DEAD
  user.start_time_ns = 1'500'000'000;
  SyntheticProcess worker = user;
  worker.pid = 151;
  worker.ppid = 2;
  worker.comm = "kworker/u4:3";
  worker.kernel_thread = true;
  worker.start_time_ns = 1'700'000'000;
  return {user, worker};
}

std::vector<SyntheticBpfMap> SyntheticLinux::default_bpf_maps() {
  return {{3, "blocklist", "BPF_MAP_TYPE_HASH"}, {5, "stats", "BPF_MAP_TYPE_PERCPU_ARRAY"}};
}

std::vector<SyntheticBpfProgram> SyntheticLinux::default_bpf_programs() {
  return {{4, "xdp_filter", "BPF_PROG_TYPE_XDP", 0x8877665544332211ull, 5'000'000'000ull, {3, 5}},
          {7, "trace_enter", "BPF_PROG_TYPE_TRACEPOINT", 0x0123456789abcdefull, 7'500'000'000ull, {5}},
          {9, "", "BPF_PROG_TYPE_SOCKET_FILTER", 0xfedcba9876543210ull, 9'000'000'000ull, {}},
          {40, "tc_hidden", "BPF_PROG_TYPE_SCHED_CLS", 0x1122334455667788ull, 9'500'000'000ull, {3}}};
}

// --- Profile -------------------------------------------------------------------

void SyntheticLinux::add_rootkit_types() {
  if (options_.log.empty()) options_.log = default_log();
  if (!options_.exited) options_.exited = default_exited();
  if (!options_.bpf_programs) options_.bpf_programs = default_bpf_programs();
  if (!options_.bpf_maps) options_.bpf_maps = default_bpf_maps();
  if (options_.cpus == 0 || options_.cpus > kCpuSlots) throw std::logic_error("SyntheticLinux: cpus out of range");
  if (options_.radix_slots < 4 || options_.radix_slots > 64 || (options_.radix_slots & (options_.radix_slots - 1)))
    throw std::logic_error("SyntheticLinux: radix_slots must be a power of two in 4..64");
  if (options_.log_buffer_bits < 8 || options_.log_buffer_bits > 16)
    throw std::logic_error("SyntheticLinux: log_buffer_bits out of range");
  rootkit_ = std::make_shared<RootkitState>();
  const bool xarray = options_.pid_table == PidTableKind::kXArray;

  Layout& L = *layout_;
  L.base("short unsigned int", 2, "int", false);
  const json u8 = base_t("unsigned char"), u16 = base_t("short unsigned int"), u32 = base_t("unsigned int");
  const json i32 = base_t("int"), ulong = base_t("long unsigned int"), u64 = base_t("long long unsigned int");
  const json voidp = ptr_t(base_t("void")), charp = ptr_t(base_t("char"));

  L.record("hlist_node", 0x10,
           {{"pprev", 0x0, ptr_t(ptr_t(struct_t("hlist_node")))}, {"next", 0x8, ptr_t(struct_t("hlist_node"))}});
  L.record("hlist_head", 0x8, {{"first", 0x0, ptr_t(struct_t("hlist_node"))}});
  L.record("rb_node", 0x18,
           {{"rb_right", 0x0, ptr_t(struct_t("rb_node"))},
            {"rb_left", 0x8, ptr_t(struct_t("rb_node"))},
            {"__rb_parent_color", 0x10, ulong}});
  L.record("rb_root", 0x8, {{"rb_node", 0x0, ptr_t(struct_t("rb_node"))}});
  L.record("rb_root_cached", 0x10,
           {{"rb_leftmost", 0x0, ptr_t(struct_t("rb_node"))}, {"rb_root", 0x8, struct_t("rb_root")}});
  L.record("atomic64_t", 0x8, {{"counter", 0x0, base_t("long int")}});

  // Radix trees and the IDR.
  const uint64_t slots = options_.radix_slots;
  const std::string node = xarray ? "xa_node" : "radix_tree_node";
  const std::string root = xarray ? "xarray" : "radix_tree_root";
  L.record(node, align8(0x28 + slots * 8 + 0x18),
           {{"shift", 0x0, u8},
            {"offset", 0x1, u8},
            {"count", 0x2, u8},
            {xarray ? "nr_values" : "exceptional", 0x3, u8},
            {xarray ? "array" : "root", 0x8, ptr_t(struct_t(root))},
            {"parent", 0x10, ptr_t(struct_t(node))},
            {"slots", 0x28, array_t(voidp, slots)}});
  if (xarray)
    L.record("xarray", 0x10, {{"xa_lock", 0x0, u32}, {"xa_flags", 0x4, u32}, {"xa_head", 0x8, voidp}});
  else
    L.record("radix_tree_root", 0x10, {{"gfp_mask", 0x0, u32}, {"rnode", 0x8, ptr_t(struct_t("radix_tree_node"))}});
  L.record("idr", 0x18, {{"idr_base", 0x0, u32}, {"idr_next", 0x4, u32}, {"idr_rt", 0x8, struct_t(root)}});

  // Pids.
  const unsigned pid_types = xarray ? 4 : 3;
  if (xarray)
    L.enumeration(
        "pid_type",
        {{"PIDTYPE_PID", 0}, {"PIDTYPE_TGID", 1}, {"PIDTYPE_PGID", 2}, {"PIDTYPE_SID", 3}, {"PIDTYPE_MAX", 4}});
  else
    L.enumeration("pid_type", {{"PIDTYPE_PID", 0}, {"PIDTYPE_PGID", 1}, {"PIDTYPE_SID", 2}, {"PIDTYPE_MAX", 3}});
  if (options_.pid_table == PidTableKind::kPidHash)
    L.record(
        "upid", 0x20,
        {{"ns", 0x0, ptr_t(struct_t("pid_namespace"))}, {"nr", 0x8, i32}, {"pid_chain", 0x10, struct_t("hlist_node")}});
  else
    L.record("upid", 0x10, {{"ns", 0x0, ptr_t(struct_t("pid_namespace"))}, {"nr", 0x8, i32}});
  L.record("pid", 0x50 + L.record_size("upid"),
           {{"count", 0x0, struct_t("atomic_t")},
            {"level", 0x4, u32},
            {"tasks", 0x10, array_t(struct_t("hlist_head"), pid_types)},
            {"numbers", 0x50, array_t(struct_t("upid"), 1)}});
  std::vector<Layout::Field> ns = {{"level", 0x48, u32}};
  if (options_.pid_table != PidTableKind::kPidHash) ns.push_back({"idr", 0x10, struct_t("idr")});
  L.record("pid_namespace", 0x100, ns);
  if (!xarray)
    L.record("pid_link", 0x18, {{"node", 0x0, struct_t("hlist_node")}, {"pid", 0x10, ptr_t(struct_t("pid"))}});

  // Per-CPU variables and the scheduler.
  L.record("cpumask", 0x8, {{"bits", 0x0, array_t(ulong, 1)}});
  L.record("sched_entity", 0x80,
           {{"run_node", 0x18, struct_t("rb_node")},
            {"on_rq", 0x40, u32},
            {"vruntime", 0x48, u64},
            {"my_q", 0x60, ptr_t(struct_t("cfs_rq"))}});
  L.record("cfs_rq", 0x140,
           {{"nr_running", 0x10, u32},
            {"tasks_timeline", 0x38, struct_t("rb_root_cached")},
            {"curr", 0x60, ptr_t(struct_t("sched_entity"))}});
  L.record("rq", 0x400,
           {{"nr_running", 0x4, u32},
            {"cfs", 0x40, struct_t("cfs_rq")},
            {"curr", 0x210, ptr_t(struct_t("task_struct"))},
            {"idle", 0x218, ptr_t(struct_t("task_struct"))},
            {"cpu", 0x230, i32}});

  // The kernel log.
  const json flags5 = {{"kind", "bitfield"}, {"bit_position", 0}, {"bit_length", 5}, {"type", u8}};
  const json level3 = {{"kind", "bitfield"}, {"bit_position", 5}, {"bit_length", 3}, {"type", u8}};
  if (options_.log_buffer == LogBufferKind::kRingBuffer) {
    L.record("prb_data_blk_lpos", 0x10, {{"next", 0x0, ulong}, {"begin", 0x8, ulong}});
    L.record("prb_desc", 0x18,
             {{"text_blk_lpos", 0x0, struct_t("prb_data_blk_lpos")}, {"state_var", 0x10, struct_t("atomic64_t")}});
    L.record("printk_info", 0x58,
             {{"seq", 0x0, u64},
              {"ts_nsec", 0x8, u64},
              {"text_len", 0x10, u16},
              {"facility", 0x12, u8},
              {"flags", 0x13, flags5},
              {"level", 0x13, level3},
              {"caller_id", 0x14, u32}});
    L.record("prb_desc_ring", 0x38,
             {{"descs", 0x0, ptr_t(struct_t("prb_desc"))},
              {"infos", 0x8, ptr_t(struct_t("printk_info"))},
              {"head_id", 0x10, struct_t("atomic64_t")},
              {"tail_id", 0x18, struct_t("atomic64_t")},
              {"last_finalized_id", 0x20, struct_t("atomic64_t")},
              {"count_bits", 0x30, u32}});
    L.record("prb_data_ring", 0x20,
             {{"data", 0x0, charp},
              {"head_lpos", 0x8, struct_t("atomic64_t")},
              {"tail_lpos", 0x10, struct_t("atomic64_t")},
              {"size_bits", 0x18, u32}});
    L.record("printk_ringbuffer", 0x68,
             {{"text_data_ring", 0x0, struct_t("prb_data_ring")},
              {"desc_ring", 0x28, struct_t("prb_desc_ring")},
              {"fail", 0x60, struct_t("atomic64_t")}});
  } else {
    L.record("printk_log", 0x18,
             {{"ts_nsec", 0x0, u64},
              {"len", 0x8, u16},
              {"text_len", 0xa, u16},
              {"dict_len", 0xc, u16},
              {"facility", 0xe, u8},
              {"flags", 0xf, flags5},
              {"level", 0xf, level3},
              {"caller_id", 0x10, u32}});
    L.record("cont", 0x120,
             {{"buf", 0x0, array_t(base_t("char"), kContBytes)},
              {"len", 0x100, ulong},
              {"ts_nsec", 0x110, u64},
              {"level", 0x118, u8},
              {"facility", 0x119, u8},
              {"flags", 0x11c, u32}});
  }

  // Sysfs and the module tree.
  L.record("kobject", 0x40,
           {{"name", 0x0, charp},
            {"entry", 0x8, struct_t("list_head")},
            {"parent", 0x18, ptr_t(struct_t("kobject"))},
            {"kset", 0x20, ptr_t(struct_t("kset"))}});
  L.record("kset", 0x58,
           {{"list", 0x0, struct_t("list_head")}, {"list_lock", 0x10, u32}, {"kobj", 0x18, struct_t("kobject")}});
  L.record("module_kobject", 0x60, {{"kobj", 0x0, struct_t("kobject")}, {"mod", 0x40, ptr_t(struct_t("module"))}});
  L.record("latch_tree_node", 0x30, {{"node", 0x0, array_t(struct_t("rb_node"), 2)}});
  L.record("latch_tree_root", 0x18, {{"seq", 0x0, u32}, {"tree", 0x8, array_t(struct_t("rb_root"), 2)}});
  L.record("mod_tree_node", 0x38,
           {{"node", 0x0, struct_t("latch_tree_node")}, {"mod", 0x30, ptr_t(struct_t("module"))}});
  L.record("mod_tree_root", 0x28,
           {{"addr_min", 0x0, ulong}, {"addr_max", 0x8, ulong}, {"root", 0x10, struct_t("latch_tree_root")}});

  // BPF.
  L.enumeration("bpf_prog_type", {{"BPF_PROG_TYPE_UNSPEC", 0},
                                  {"BPF_PROG_TYPE_SOCKET_FILTER", 1},
                                  {"BPF_PROG_TYPE_KPROBE", 2},
                                  {"BPF_PROG_TYPE_SCHED_CLS", 3},
                                  {"BPF_PROG_TYPE_SCHED_ACT", 4},
                                  {"BPF_PROG_TYPE_TRACEPOINT", 5},
                                  {"BPF_PROG_TYPE_XDP", 6}});
  L.enumeration("bpf_map_type", {{"BPF_MAP_TYPE_UNSPEC", 0},
                                 {"BPF_MAP_TYPE_HASH", 1},
                                 {"BPF_MAP_TYPE_ARRAY", 2},
                                 {"BPF_MAP_TYPE_PROG_ARRAY", 3},
                                 {"BPF_MAP_TYPE_PERF_EVENT_ARRAY", 4},
                                 {"BPF_MAP_TYPE_PERCPU_HASH", 5},
                                 {"BPF_MAP_TYPE_PERCPU_ARRAY", 6}});
  L.record(
      "bpf_map", 0x80,
      {{"map_type", 0x18, enum_t("bpf_map_type")}, {"id", 0x20, u32}, {"name", 0x28, array_t(base_t("char"), 16)}});
  L.record("bpf_prog_aux", 0x100,
           {{"id", 0x20, u32},
            {"load_time", 0x30, u64},
            {"name", 0x40, array_t(base_t("char"), 16)},
            {"used_maps", 0x50, ptr_t(ptr_t(struct_t("bpf_map")))},
            {"used_map_cnt", 0x58, u32},
            {"prog", 0x60, ptr_t(struct_t("bpf_prog"))}});
  L.record("bpf_prog", 0x48,
           {{"pages", 0x0, u16},
            {"type", 0x8, enum_t("bpf_prog_type")},
            {"tag", 0x10, array_t(u8, 8)},
            {"aux", 0x38, ptr_t(struct_t("bpf_prog_aux"))}});
}

nlohmann::json SyntheticLinux::rootkit_task_fields() const {
  json out = json::array();
  auto field = [&](const char* name, uint64_t offset, json type) {
    out.push_back({{"name", name}, {"offset", offset}, {"type", std::move(type)}});
  };
  field("se", 0x100, struct_t("sched_entity"));
  field("on_cpu", 0x40, base_t("int"));
  if (options_.pid_table == PidTableKind::kXArray) {
    field("pid_links", 0x980, array_t(struct_t("hlist_node"), 4));
    field("thread_pid", 0x9c0, ptr_t(struct_t("pid")));
  } else {
    field("pids", 0x980, array_t(struct_t("pid_link"), 3));
  }
  return out;
}

nlohmann::json SyntheticLinux::rootkit_module_fields() const {
  return json::array({{{"name", "mkobj"}, {"offset", 0x70}, {"type", struct_t("module_kobject")}}});
}

void SyntheticLinux::add_rootkit_symbols(nlohmann::json& symbols) const {
  auto at = [](uint64_t offset, json type) { return json{{"address", kLinkText + offset}, {"type", std::move(type)}}; };
  auto absolute = [](uint64_t address, json type) {
    json s = {{"address", address}};
    if (!type.is_null()) s["type"] = std::move(type);
    return s;
  };
  const json ulong = base_t("long unsigned int"), u32 = base_t("unsigned int");
  symbols["init_pid_ns"] = at(kInitPidNsOffset, struct_t("pid_namespace"));
  if (options_.pid_table == PidTableKind::kPidHash) {
    symbols["pid_hash"] = at(kPidHashVarOffset, ptr_t(struct_t("hlist_head")));
    symbols["pidhash_shift"] = at(kPidHashShiftOffset, u32);
  }
  symbols["__per_cpu_start"] = absolute(0, json());
  symbols["__per_cpu_end"] = absolute(kPerCpuSize, json());
  symbols["runqueues"] = absolute(kRunqueuesLink, struct_t("rq"));
  symbols["this_cpu_off"] = absolute(kThisCpuOffLink, ulong);
  symbols["__per_cpu_offset"] = at(kPerCpuOffsetOffset, array_t(ulong, kCpuSlots));
  symbols["nr_cpu_ids"] = at(kNrCpuIdsOffset, u32);
  symbols["__cpu_possible_mask"] = at(kPossibleMaskOffset, struct_t("cpumask"));
  if (options_.log_buffer == LogBufferKind::kRingBuffer) {
    symbols["prb"] = at(kLogVarOffset, ptr_t(struct_t("printk_ringbuffer")));
    symbols["printk_rb_static"] = at(kPrbStaticOffset, struct_t("printk_ringbuffer"));
  } else {
    symbols["log_buf"] = at(kLogVarOffset, ptr_t(base_t("char")));
    symbols["log_buf_len"] = at(kLogBufLenOffset, u32);
    symbols["log_first_idx"] = at(kLogFirstIdxOffset, u32);
    symbols["log_next_idx"] = at(kLogNextIdxOffset, u32);
    symbols["log_first_seq"] = at(kLogFirstSeqOffset, base_t("long long unsigned int"));
    symbols["log_next_seq"] = at(kLogNextSeqOffset, base_t("long long unsigned int"));
    symbols["cont"] = at(kContOffset, struct_t("cont"));
  }
  symbols["module_kset"] = at(kModuleKsetVarOffset, ptr_t(struct_t("kset")));
  if (options_.module_layout != ModuleLayoutKind::kModuleCore)
    symbols["mod_tree"] = at(kModTreeOffset, struct_t("mod_tree_root"));
  symbols["prog_idr"] = at(kProgIdrOffset, struct_t("idr"));
  symbols["map_idr"] = at(kMapIdrOffset, struct_t("idr"));
}

// --- Memory --------------------------------------------------------------------

void SyntheticLinux::build_rootkit_structures() {
  RootkitState& state = *rootkit_;
  state.build_per_cpu(*this);
  state.build_pid_table(*this);
  state.build_exited(*this);
  state.build_runqueues(*this);
  if (options_.log_buffer == LogBufferKind::kRingBuffer)
    state.build_ring_log(*this);
  else
    state.build_log_buf(*this);
  state.build_module_tables(*this);
  state.build_bpf(*this);
}

void SyntheticLinux::RootkitState::build_per_cpu(SyntheticLinux& k) {
  const uint64_t task_size = k.layout_->record_size("task_struct");
  const uint64_t init_task = k.task_by_tid_.at(0);
  k.put_field(init_task, "task_struct", "flags", kPfKthread | kPfIdle);
  zero(k, k.symbol_address("__per_cpu_offset"), kCpuSlots * 8);
  uint64_t mask = 0;
  for (unsigned cpu = 0; cpu < k.options_.cpus; ++cpu) {
    // The section is linked at 0: a CPU's offset is its area's address.
    const uint64_t area = k.slab_alloc(kPerCpuSize);
    k.put_kernel_u64(k.symbol_address("__per_cpu_offset") + cpu * 8, area);
    k.put_kernel_u64(area + kThisCpuOffLink, area);
    runqueues.push_back(area + kRunqueuesLink);
    mask |= uint64_t{1} << cpu;
    if (cpu == 0) {
      idle_tasks.push_back(init_task);
      continue;
    }
    // swapper/N: forked from init_task for each other CPU, never on the task list.
    const uint64_t idle = k.slab_alloc(task_size);
    k.put_field(idle, "task_struct", "pid", 0);
    k.put_field(idle, "task_struct", "tgid", 0);
    k.put_field(idle, "task_struct", "flags", kPfKthread | kPfIdle);
    k.put_string_field(idle, "task_struct", "comm", "swapper/" + std::to_string(cpu));
    k.put_field(idle, "task_struct", "real_parent", init_task);
    k.put_field(idle, "task_struct", "parent", init_task);
    k.put_field(idle, "task_struct", "group_leader", idle);
    k.put_field(idle, "task_struct", "real_cred", k.symbol_address("init_cred"));
    k.put_field(idle, "task_struct", "cred", k.symbol_address("init_cred"));
    k.put_field(idle, "task_struct", "signal", k.symbol_address("init_signals"));
    k.list_init(idle + k.offset_of("task_struct", "tasks"));
    k.list_init(idle + k.offset_of("task_struct", "children"));
    k.list_init(idle + k.offset_of("task_struct", "sibling"));
    k.list_init(idle + k.offset_of("task_struct", k.options_.thread_list == ThreadListKind::kThreadNode
                                                      ? "thread_node"
                                                      : "thread_group"));
    idle_tasks.push_back(idle);
  }
  k.put_kernel_u64(k.symbol_address("__cpu_possible_mask"), mask);
  uint32_t cpus = k.options_.cpus;
  k.put_kernel(k.symbol_address("nr_cpu_ids"), &cpus, sizeof cpus);
}

void SyntheticLinux::RootkitState::build_pid_table(SyntheticLinux& k) {
  const uint64_t ns = k.symbol_address("init_pid_ns");
  zero(k, ns, k.layout_->record_size("pid_namespace"));
  const uint64_t pid_size = k.layout_->record_size("pid");
  const uint64_t tasks = k.offset_of("pid", "tasks"), numbers = k.offset_of("pid", "numbers");
  for (const auto& [tid, task] : k.task_by_tid_) {
    if (tid == 0) continue;  // init_task has init_struct_pid, which no table holds
    const uint64_t pid = k.slab_alloc(pid_size);
    k.put_field(pid, "pid", "count.counter", 1);
    k.put_field(pid, "pid", "level", 0);
    k.put_field(pid + numbers, "upid", "nr", static_cast<uint32_t>(tid));
    k.put_field(pid + numbers, "upid", "ns", ns);
    // pid->tasks[PIDTYPE_PID] holds the task through its link of that type.
    const uint64_t link = task_link(k, task, 0);
    k.put_field(pid + tasks, "hlist_head", "first", link);
    k.put_field(link, "hlist_node", "pprev", pid + tasks + k.offset_of("hlist_head", "first"));
    k.put_field(link, "hlist_node", "next", 0);
    if (xarray(k))
      k.put_field(task, "task_struct", "thread_pid", pid);
    else
      k.put_kernel_u64(task + k.offset_of("task_struct", "pids") + k.offset_of("pid_link", "pid"),
                       pid);  // pids[PIDTYPE_PID].pid
    pid_structs[tid] = pid;
  }
  if (k.options_.pid_table == PidTableKind::kPidHash) {
    const uint64_t buckets = uint64_t{1} << kPidHashShift;
    const uint64_t table = k.slab_alloc(buckets * 8);
    const uint64_t chain = k.offset_of("upid", "pid_chain");
    for (const auto& [tid, pid] : pid_structs) {
      // hlist_add_head_rcu into bucket tid % buckets.
      const uint64_t head = table + (uint64_t(tid) % buckets) * 8;
      const uint64_t node = pid + numbers + chain;
      const uint64_t first = k.space_->read_value<uint64_t>(k.kernel_physical(head));
      k.put_field(node, "hlist_node", "next", first);
      k.put_field(node, "hlist_node", "pprev", head);
      if (first) k.put_field(first, "hlist_node", "pprev", node + k.offset_of("hlist_node", "next"));
      k.put_kernel_u64(head, node);
    }
    k.put_kernel_u64(k.symbol_address("pid_hash"), table);
    uint32_t shift = kPidHashShift;
    k.put_kernel(k.symbol_address("pidhash_shift"), &shift, sizeof shift);
    return;
  }
  std::map<uint64_t, uint64_t> by_id;
  for (const auto& [tid, pid] : pid_structs) by_id[static_cast<uint64_t>(tid)] = pid;
  build_idr(k, ns + k.offset_of("pid_namespace", "idr"), 0, by_id, &pid_nodes);
}

void SyntheticLinux::RootkitState::build_exited(SyntheticLinux& k) {
  const uint64_t task_size = k.layout_->record_size("task_struct");
  const std::string state_field = k.options_.task_state == TaskStateField::kUnderscoreState ? "__state" : "state";
  const std::string boot_field =
      k.options_.start_time == StartTimeField::kStartBoottime ? "start_boottime" : "real_start_time";
  for (const SyntheticProcess& p : *k.options_.exited) {
    const uint64_t task = k.slab_alloc(task_size);
    const uint64_t parent = k.task_by_tid_.at(p.ppid);
    k.put_field(task, "task_struct", "pid", static_cast<uint32_t>(p.pid));
    k.put_field(task, "task_struct", "tgid", static_cast<uint32_t>(p.pid));
    k.put_field(task, "task_struct", "flags", p.kernel_thread ? kPfKthread : 0x400100);
    k.put_field(task, "task_struct", state_field, p.state);
    k.put_field(task, "task_struct", "exit_state", p.exit_state);
    k.put_string_field(task, "task_struct", "comm", p.comm);
    k.put_field(task, "task_struct", "real_parent", parent);
    k.put_field(task, "task_struct", "parent", parent);
    k.put_field(task, "task_struct", "group_leader", task);
    // A kernel worker's credentials already put, as exit_creds leaves them.
    const uint64_t c = p.kernel_thread ? 0 : cred(k, p.uid);
    k.put_field(task, "task_struct", "real_cred", c);
    k.put_field(task, "task_struct", "cred", c);
    k.put_field(task, "task_struct", boot_field, p.start_time_ns);
    // Unhashed by release_task: list_del_rcu leaves next and poisons prev;
    // list_del_init self-links the sibling link.
    const uint64_t tasks = task + k.offset_of("task_struct", "tasks");
    k.put_field(tasks, "list_head", "next", k.task_by_tid_.at(0) + k.offset_of("task_struct", "tasks"));
    k.put_field(tasks, "list_head", "prev", kListPoison2);
    k.list_init(task + k.offset_of("task_struct", "children"));
    k.list_init(task + k.offset_of("task_struct", "sibling"));
    k.list_init(task + k.offset_of("task_struct", k.options_.thread_list == ThreadListKind::kThreadNode
                                                      ? "thread_node"
                                                      : "thread_group"));
    for (unsigned type = 0; type < pid_types(k); ++type)
      k.put_field(task_link(k, task, type), "hlist_node", "pprev", kListPoison2);
    exited[p.pid] = task;
  }
}

void SyntheticLinux::RootkitState::build_runqueues(SyntheticLinux& k) {
  const unsigned cpus = k.options_.cpus;
  std::vector<uint64_t> curr = idle_tasks;
  std::vector<std::vector<std::pair<uint64_t, uint64_t>>> waiting(cpus);  // (vruntime, task)
  for (const SyntheticProcess& p : k.options_.processes) {
    std::vector<int> tids{p.pid};
    tids.insert(tids.end(), p.extra_threads.begin(), p.extra_threads.end());
    for (int tid : tids) {
      const uint64_t task = k.task_by_tid_.at(tid);
      if (tid == p.pid && p.running_on_cpu >= 0) {
        if (unsigned(p.running_on_cpu) >= cpus) throw std::logic_error("SyntheticLinux: running_on_cpu out of range");
        curr[p.running_on_cpu] = task;
        k.put_field(task, "task_struct", "on_cpu", 1);
        continue;
      }
      if (p.state != 0 || p.exit_state != 0) continue;
      waiting[uint64_t(tid) % cpus].push_back({uint64_t(tid) * 1000, task});
    }
  }
  for (unsigned cpu = 0; cpu < cpus; ++cpu) {
    const uint64_t rq = runqueues[cpu];
    zero(k, rq, k.layout_->record_size("rq"));
    k.put_field(rq, "rq", "cpu", cpu);
    k.put_field(rq, "rq", "idle", idle_tasks[cpu]);
    k.put_field(rq, "rq", "curr", curr[cpu]);
    std::sort(waiting[cpu].begin(), waiting[cpu].end());
    std::vector<uint64_t> nodes;
    const uint64_t se = k.offset_of("task_struct", "se");
    for (const auto& [vruntime, task] : waiting[cpu]) {
      k.put_field(task + se, "sched_entity", "on_rq", 1);
      k.put_field(task + se, "sched_entity", "vruntime", vruntime);
      nodes.push_back(task + se + k.offset_of("sched_entity", "run_node"));
    }
    const uint64_t timeline = rq + k.offset_of("rq", "cfs.tasks_timeline");
    k.put_field(timeline, "rb_root_cached", "rb_root.rb_node", rb_tree(k, nodes, 0, nodes.size(), 0));
    k.put_field(timeline, "rb_root_cached", "rb_leftmost", nodes.empty() ? 0 : nodes.front());
    k.put_field(rq, "rq", "cfs.nr_running", nodes.size());
    k.put_field(rq, "rq", "nr_running", nodes.size() + (curr[cpu] != idle_tasks[cpu]));
  }
}

void SyntheticLinux::RootkitState::build_ring_log(SyntheticLinux& k) {
  const unsigned bits = k.options_.log_buffer_bits, count_bits = bits - 5;
  const uint64_t data_size = uint64_t{1} << bits, count = uint64_t{1} << count_bits;
  const uint64_t desc_size = k.layout_->record_size("prb_desc"), info_size = k.layout_->record_size("printk_info");
  const uint64_t descs = k.slab_alloc(count * desc_size), infos = k.slab_alloc(count * info_size);
  const uint64_t data = k.slab_alloc(data_size);
  ring = k.symbol_address("printk_rb_static");
  zero(k, ring, k.layout_->record_size("printk_ringbuffer"));
  auto desc = [&](uint64_t id) { return descs + (id & (count - 1)) * desc_size; };
  auto set_state = [&](uint64_t id, uint64_t state) {
    k.put_field(desc(id), "prb_desc", "state_var.counter", state << 62 | id);
  };
  // As the kernel starts: ids just below the wrap of the id space, the
  // data positions one ring size below 0, the last descriptor given back.
  const uint64_t desc0 = (0 - (count + 1)) & kDescIdMask;
  set_state(desc0, 3);
  k.put_field(desc(desc0), "prb_desc", "text_blk_lpos.begin", 1);
  k.put_field(desc(desc0), "prb_desc", "text_blk_lpos.next", 1);
  uint64_t lpos = 0 - data_size;
  struct Live {
    uint64_t id, begin, next;
    size_t record;
  };
  std::deque<Live> live;
  const auto& log = k.options_.log;
  for (size_t i = 0; i < log.size(); ++i) {
    const SyntheticLogRecord& r = log[i];
    const uint64_t id = (desc0 + 1 + i) & kDescIdMask;
    const uint64_t size = align8(8 + r.text.size());
    if (size > data_size / 2) throw std::logic_error("SyntheticLinux: log record too long for the ring");
    const uint64_t begin = lpos;
    const bool wraps = (begin & (data_size - 1)) + size > data_size;
    const uint64_t next = wraps ? ((begin >> bits) + 1) * data_size + size : begin + size;
    // data_push_tail / desc_push_tail: the oldest records make room.
    while (!live.empty() && (next - live.front().begin > data_size || live.size() >= count - 1)) {
      set_state(live.front().id, 3);
      live.pop_front();
    }
    std::string block(8, '\0');
    std::memcpy(block.data(), &id, 8);
    if (wraps) k.put_kernel(data + (begin & (data_size - 1)), block.data(), 8);  // the id marks the skipped end
    block += r.text;
    k.put_kernel(data + (wraps ? 0 : begin & (data_size - 1)), block.data(), block.size());
    k.put_field(desc(id), "prb_desc", "text_blk_lpos.begin", begin);
    k.put_field(desc(id), "prb_desc", "text_blk_lpos.next", next);
    set_state(id, r.finalized ? 2 : 1);
    const uint64_t info = infos + (id & (count - 1)) * info_size;
    k.put_field(info, "printk_info", "seq", i);
    k.put_field(info, "printk_info", "ts_nsec", r.timestamp_ns);
    k.put_field(info, "printk_info", "text_len", r.text.size());
    k.put_field(info, "printk_info", "facility", r.facility);
    const uint8_t flags_level = static_cast<uint8_t>((r.flags & 0x1f) | (r.level & 7) << 5);
    k.put_kernel(info + k.offset_of("printk_info", "flags"), &flags_level, 1);
    k.put_field(info, "printk_info", "caller_id", r.caller_id);
    live.push_back({id, begin, next, i});
    lpos = next;
  }
  const uint64_t head = live.empty() ? desc0 : live.back().id, tail = live.empty() ? desc0 : live.front().id;
  k.put_field(ring, "printk_ringbuffer", "desc_ring.count_bits", count_bits);
  k.put_field(ring, "printk_ringbuffer", "desc_ring.descs", descs);
  k.put_field(ring, "printk_ringbuffer", "desc_ring.infos", infos);
  k.put_field(ring, "printk_ringbuffer", "desc_ring.head_id.counter", head);
  k.put_field(ring, "printk_ringbuffer", "desc_ring.tail_id.counter", tail);
  k.put_field(ring, "printk_ringbuffer", "desc_ring.last_finalized_id.counter", head);
  k.put_field(ring, "printk_ringbuffer", "text_data_ring.size_bits", bits);
  k.put_field(ring, "printk_ringbuffer", "text_data_ring.data", data);
  k.put_field(ring, "printk_ringbuffer", "text_data_ring.head_lpos.counter", lpos);
  k.put_field(ring, "printk_ringbuffer", "text_data_ring.tail_lpos.counter", live.empty() ? lpos : live.front().begin);
  k.put_kernel_u64(k.symbol_address("prb"), ring);
  for (const Live& l : live) retained.push_back(log[l.record]);
}

void SyntheticLinux::RootkitState::build_log_buf(SyntheticLinux& k) {
  const uint64_t length = uint64_t{1} << k.options_.log_buffer_bits;
  const uint64_t buffer = k.slab_alloc(length);
  const uint64_t header = k.layout_->record_size("printk_log");
  ring = buffer;
  struct Live {
    uint64_t offset;
    size_t record;
  };
  std::deque<Live> live;
  uint64_t next = 0, first_seq = 0, next_seq = 0;
  auto log = k.options_.log;
  std::optional<SyntheticLogRecord> open;
  if (!log.empty() && !log.back().finalized) {
    open = log.back();  // before 5.10 an unfinished line waits in `cont`
    log.pop_back();
  }
  auto first = [&] { return live.empty() ? next : live.front().offset; };
  auto has_space = [&](uint64_t size) {
    // logbuf_has_space (kernel/printk/printk.c, 3.5-5.9)
    uint64_t free = (next > first() || live.empty()) ? std::max(length - next, first()) : first() - next;
    return free >= size + header;
  };
  for (size_t i = 0; i < log.size(); ++i) {
    const SyntheticLogRecord& r = log[i];
    const uint64_t size = align8(header + r.text.size());
    if (size + header > length / 2) throw std::logic_error("SyntheticLinux: log record too long for log_buf");
    while (!live.empty() && !has_space(size)) {
      live.pop_front();
      ++first_seq;
    }
    if (next + size + header > length) {
      zero(k, buffer + next, header);  // a zero-length record: wrap to the start
      next = 0;
    }
    std::vector<uint8_t> bytes(size);
    k.put_kernel(buffer + next, bytes.data(), bytes.size());
    const uint64_t rec = buffer + next;
    k.put_field(rec, "printk_log", "ts_nsec", r.timestamp_ns);
    k.put_field(rec, "printk_log", "len", size);
    k.put_field(rec, "printk_log", "text_len", r.text.size());
    k.put_field(rec, "printk_log", "dict_len", 0);
    k.put_field(rec, "printk_log", "facility", r.facility);
    const uint8_t flags_level = static_cast<uint8_t>((r.flags & 0x1f) | (r.level & 7) << 5);
    k.put_kernel(rec + k.offset_of("printk_log", "flags"), &flags_level, 1);
    k.put_field(rec, "printk_log", "caller_id", r.caller_id);
    k.put_kernel(rec + header, r.text.data(), r.text.size());
    live.push_back({next, i});
    next += size;
    ++next_seq;
  }
  k.put_kernel_u64(k.symbol_address("log_buf"), buffer);
  const uint32_t len32 = static_cast<uint32_t>(length), first32 = static_cast<uint32_t>(first()),
                 next32 = static_cast<uint32_t>(next);
  k.put_kernel(k.symbol_address("log_buf_len"), &len32, 4);
  k.put_kernel(k.symbol_address("log_first_idx"), &first32, 4);
  k.put_kernel(k.symbol_address("log_next_idx"), &next32, 4);
  k.put_kernel_u64(k.symbol_address("log_first_seq"), first_seq);
  k.put_kernel_u64(k.symbol_address("log_next_seq"), next_seq);
  for (const Live& l : live) retained.push_back(log[l.record]);
  const uint64_t cont = k.symbol_address("cont");
  zero(k, cont, k.layout_->record_size("cont"));
  if (open) {
    std::string text = open->text.substr(0, kContBytes);
    k.put_kernel(cont, text.data(), text.size());
    k.put_field(cont, "cont", "len", text.size());
    k.put_field(cont, "cont", "ts_nsec", open->timestamp_ns);
    k.put_field(cont, "cont", "level", open->level);
    k.put_field(cont, "cont", "facility", open->facility);
    retained.push_back(*open);
  }
}

void SyntheticLinux::RootkitState::build_module_tables(SyntheticLinux& k) {
  // /sys/module: module_kset's list of module_kobjects; a built-in module
  // (with parameters but no struct module) comes first.
  const uint64_t kset = k.slab_alloc(k.layout_->record_size("kset"));
  k.list_init(kset + k.offset_of("kset", "list"));
  k.put_field(kset, "kset", "kobj.name", string(k, "module"));
  k.put_kernel_u64(k.symbol_address("module_kset"), kset);
  auto add_kobject = [&](uint64_t mk, const std::string& name, uint64_t mod) {
    k.put_field(mk, "module_kobject", "kobj.name", string(k, name));
    k.put_field(mk, "module_kobject", "kobj.kset", kset);
    k.put_field(mk, "module_kobject", "kobj.parent", kset + k.offset_of("kset", "kobj"));
    k.put_field(mk, "module_kobject", "mod", mod);
    k.list_add_tail(mk + k.offset_of("module_kobject", "kobj.entry"), kset + k.offset_of("kset", "list"));
  };
  add_kobject(k.slab_alloc(k.layout_->record_size("module_kobject")), "printk", 0);
  for (const SyntheticModule& m : k.options_.modules) {
    const uint64_t mod = k.module_by_name_.at(m.name);
    add_kobject(mod + k.offset_of("module", "mkobj"), m.name, mod);
  }
  if (k.options_.module_layout == ModuleLayoutKind::kModuleCore) return;  // no mod_tree before 4.2

  // The module tree: one mod_tree_node per memory region, keyed by address,
  // in both latch copies.
  struct Region {
    uint64_t base, size, mtn;
  };
  std::vector<Region> regions;
  for (const SyntheticModule& m : k.options_.modules) {
    const uint64_t mod = k.module_by_name_.at(m.name);
    auto add = [&](uint64_t mtn, uint64_t base, uint64_t size) {
      if (size == 0) return;
      k.put_field(mtn, "mod_tree_node", "mod", mod);
      regions.push_back({base, size, mtn});
    };
    if (k.options_.module_layout == ModuleLayoutKind::kMemArray) {
      const uint64_t stride = k.layout_->record_size("module_memory");
      for (uint64_t type = 0; type < 7; ++type) {
        const uint64_t mem = mod + k.offset_of("module", "mem") + type * stride;
        const uint64_t base =
            k.space_->read_value<uint64_t>(k.kernel_physical(mem + k.offset_of("module_memory", "base")));
        const uint64_t size =
            k.space_->read_value<uint32_t>(k.kernel_physical(mem + k.offset_of("module_memory", "size")));
        add(mem + k.offset_of("module_memory", "mtn"), base, size);
      }
    } else {
      for (const char* layout : {"core_layout", "init_layout"}) {
        const uint64_t at = mod + k.offset_of("module", layout);
        const uint64_t base =
            k.space_->read_value<uint64_t>(k.kernel_physical(at + k.offset_of("module_layout", "base")));
        const uint64_t size =
            k.space_->read_value<uint32_t>(k.kernel_physical(at + k.offset_of("module_layout", "size")));
        add(at + k.offset_of("module_layout", "mtn"), base, size);
      }
    }
  }
  std::sort(regions.begin(), regions.end(), [](const Region& a, const Region& b) { return a.base < b.base; });
  const uint64_t tree = k.symbol_address("mod_tree");
  zero(k, tree, k.layout_->record_size("mod_tree_root"));
  for (unsigned copy = 0; copy < 2; ++copy) {
    std::vector<uint64_t> nodes;
    for (const Region& r : regions)
      nodes.push_back(r.mtn + k.offset_of("mod_tree_node", "node") + copy * k.layout_->record_size("rb_node"));
    const uint64_t root = tree + k.offset_of("mod_tree_root", "root.tree") + copy * k.layout_->record_size("rb_root");
    k.put_field(root, "rb_root", "rb_node", rb_tree(k, nodes, 0, nodes.size(), 0));
  }
  if (!regions.empty()) {
    uint64_t low = regions.front().base, high = 0;
    for (const Region& r : regions) high = std::max(high, r.base + r.size);
    k.put_field(tree, "mod_tree_root", "addr_min", low);
    k.put_field(tree, "mod_tree_root", "addr_max", high);
  }
}

void SyntheticLinux::RootkitState::build_bpf(SyntheticLinux& k) {
  std::map<uint64_t, uint64_t> map_ids, prog_ids;
  for (const SyntheticBpfMap& m : *k.options_.bpf_maps) {
    const uint64_t map = k.slab_alloc(k.layout_->record_size("bpf_map"));
    k.put_field(map, "bpf_map", "map_type", static_cast<uint64_t>(k.layout_->constant("bpf_map_type", m.type)));
    k.put_field(map, "bpf_map", "id", m.id);
    k.put_string_field(map, "bpf_map", "name", m.name);
    maps[m.id] = map;
    map_ids[m.id] = map;
  }
  for (const SyntheticBpfProgram& p : *k.options_.bpf_programs) {
    const uint64_t prog = k.slab_alloc(k.layout_->record_size("bpf_prog"));
    const uint64_t aux = k.slab_alloc(k.layout_->record_size("bpf_prog_aux"));
    k.put_field(prog, "bpf_prog", "pages", 1);
    k.put_field(prog, "bpf_prog", "type", static_cast<uint64_t>(k.layout_->constant("bpf_prog_type", p.type)));
    k.put_kernel(prog + k.offset_of("bpf_prog", "tag"), &p.tag, 8);
    k.put_field(prog, "bpf_prog", "aux", aux);
    k.put_field(aux, "bpf_prog_aux", "id", p.id);
    k.put_field(aux, "bpf_prog_aux", "load_time", p.load_time_ns);
    k.put_string_field(aux, "bpf_prog_aux", "name", p.name);
    k.put_field(aux, "bpf_prog_aux", "prog", prog);
    if (!p.maps.empty()) {
      const uint64_t used = k.slab_alloc(p.maps.size() * 8);
      for (size_t i = 0; i < p.maps.size(); ++i) k.put_kernel_u64(used + i * 8, maps.at(p.maps[i]));
      k.put_field(aux, "bpf_prog_aux", "used_maps", used);
    }
    k.put_field(aux, "bpf_prog_aux", "used_map_cnt", p.maps.size());
    progs[p.id] = prog;
    prog_ids[p.id] = prog;
  }
  // prog_idr counts from 1 (idr_base), map_idr from 0: both kinds of IDR.
  build_idr(k, k.symbol_address("prog_idr"), 1, prog_ids, nullptr);
  build_idr(k, k.symbol_address("map_idr"), 0, map_ids, nullptr);
}

// --- Accessors and corruption --------------------------------------------------------

std::vector<SyntheticLogRecord> SyntheticLinux::log_retained() const { return rootkit_->retained; }
uint64_t SyntheticLinux::pid_address(int tid) const { return rootkit_->pid_structs.at(tid); }
uint64_t SyntheticLinux::idle_task_address(unsigned cpu) const { return rootkit_->idle_tasks.at(cpu); }
uint64_t SyntheticLinux::runqueue_address(unsigned cpu) const { return rootkit_->runqueues.at(cpu); }
uint64_t SyntheticLinux::exited_task_address(int pid) const { return rootkit_->exited.at(pid); }
uint64_t SyntheticLinux::bpf_prog_address(uint32_t id) const { return rootkit_->progs.at(id); }
uint64_t SyntheticLinux::log_ring_address() const { return rootkit_->ring; }
uint64_t SyntheticLinux::size_of(const std::string& type) const { return layout_->record_size(type); }

std::vector<uint64_t> SyntheticLinux::pid_table_nodes() const {
  std::vector<uint64_t> out;
  for (const auto& n : rootkit_->pid_nodes) out.push_back(n.address);
  return out;
}

void SyntheticLinux::pid_table_cycle() {
  const RootkitState& state = *rootkit_;
  if (state.pid_nodes.empty()) throw std::logic_error("SyntheticLinux: no PID table nodes (pid hash?)");
  const std::string type = state.node_type(*this);
  for (auto it = state.pid_nodes.rbegin(); it != state.pid_nodes.rend(); ++it) {
    if (it->shift == 0) continue;
    const uint64_t slot = it->address + offset_of(type, "slots") + (options_.radix_slots - 1) * 8;
    put_kernel_u64(slot, state.encode(*this, state.pid_nodes.front().address));
    return;
  }
  throw std::logic_error("SyntheticLinux: the PID table has a single level");
}

void SyntheticLinux::set_log_indexes(uint64_t head, uint64_t tail) {
  if (options_.log_buffer == LogBufferKind::kRingBuffer) {
    put_field(rootkit_->ring, "printk_ringbuffer", "desc_ring.head_id.counter", head);
    put_field(rootkit_->ring, "printk_ringbuffer", "desc_ring.tail_id.counter", tail);
    return;
  }
  const uint32_t next = static_cast<uint32_t>(head), first = static_cast<uint32_t>(tail);
  put_kernel(symbol_address("log_next_idx"), &next, 4);
  put_kernel(symbol_address("log_first_idx"), &first, 4);
}

}  // namespace memscope::test
