#include "support/synthetic_linux.h"

#include <algorithm>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "core/util/hex.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "support/synthetic_layout.h"

namespace memscope::test {
namespace {

using nlohmann::json;
using namespace synthetic;

// Where things go in the synthetic machine. Physical pools lie above the
// kernel image (at 0x1000000 + physical_shift, 8 MiB) and are all covered by
// the direct map.
constexpr uint64_t kKernelImageSize = 0x800000;
constexpr uint64_t kBannerOffset = 0x200100;      // from _text
constexpr uint64_t kInitTaskOffset = 0x400040;
constexpr uint64_t kModulesOffset = 0x402010;
constexpr uint64_t kPageOffsetVarOffset = 0x402100;
constexpr uint64_t kPhysBaseVarOffset = 0x402108;
constexpr uint64_t kInitCredOffset = 0x403000;
constexpr uint64_t kInitSignalsOffset = 0x404000;
constexpr uint64_t kTopTableOffset = 0x600000;    // init_top_pgt; tables follow it
constexpr uint64_t kSlabStart = 0x3000000, kSlabEnd = 0x3800000;
constexpr uint64_t kTablePoolStart = 0x3800000, kTablePoolEnd = 0x3c00000;
constexpr uint64_t kUserPoolEnd = 0x4800000, kUserPoolStart = 0x4000000;  // handed out downward
constexpr uint64_t kModulePoolStart = 0x5000000, kModulePoolEnd = 0x5800000;
constexpr uint64_t kPhysicalEnd = 0x6000000;  // direct-mapped
constexpr uint64_t kModuleArea = 0xffffffffc0200000ull;
constexpr uint64_t kModuleStride = 0x20000;
constexpr uint64_t kModuleInitOffset = 0x10000;
constexpr uint64_t kUserArgsBase = 0x7ffd00000000ull;
constexpr uint64_t kUserArgsPageOffset = 0xe80;  // blocks start near a page end: they always cross one
constexpr uint64_t kTablesPerProcess = 8;
constexpr uint64_t kTablesPerProcessWithMaps = 32;  // SyntheticOptions::vmas maps pages far apart
constexpr uint64_t kPage = 4096;
constexpr uint64_t k2M = 0x200000;

constexpr uint32_t kPfKthread = 0x00200000;  // include/linux/sched.h

std::string base64(const std::string& in) {
  static const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8) | uint8_t(in[i + 2]);
    for (int k = 3; k >= 0; --k) out += alphabet[(v >> (6 * k)) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = (uint8_t(in[i]) << 16) | (uint8_t(in[i + 1]) << 8);
    out += alphabet[(v >> 18) & 63];
    out += alphabet[(v >> 12) & 63];
    out += alphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

std::string hex_digits(uint64_t value) { return hex(value).substr(2); }

}  // namespace

char SyntheticProcess::state_letter() const {
  if (exit_state & 0x20) return 'Z';
  if (exit_state & 0x10) return 'X';
  if ((state & 0x402) == 0x402) return 'I';
  if (state & 0x8) return 't';
  if (state & 0x4) return 'T';
  if (state & 0x2) return 'D';
  if (state & 0x1) return 'S';
  return 'R';
}

std::vector<SyntheticProcess> SyntheticLinux::default_processes() {
  std::vector<SyntheticProcess> out;
  auto user = [&](int pid, int ppid, std::string comm, uint32_t uid, std::vector<std::string> argv,
                  std::vector<std::string> env) {
    SyntheticProcess p;
    p.pid = pid;
    p.ppid = ppid;
    p.comm = std::move(comm);
    p.uid = p.gid = p.euid = p.egid = uid;
    p.argv = std::move(argv);
    p.envp = std::move(env);
    p.envp.push_back("RIG_MARKER=" + p.comm + "-" + std::to_string(pid));
    p.start_time_ns = 1'000'000'000ull + uint64_t(pid) * 37'000'123ull;
    out.push_back(std::move(p));
    return &out.back();
  };
  auto kthread = [&](int pid, int ppid, std::string comm, uint32_t state) {
    SyntheticProcess p;
    p.pid = pid;
    p.ppid = ppid;
    p.comm = std::move(comm);
    p.kernel_thread = true;
    p.state = state;
    p.start_time_ns = 20'000'000ull * uint64_t(pid);
    out.push_back(std::move(p));
  };
  user(1, 0, "systemd", 0, {"/sbin/init", "splash"}, {"HOME=/", "TERM=linux"})->start_time_ns = 15'000'000;
  kthread(2, 0, "kthreadd", 1);
  kthread(3, 2, "rcu_gp", 0x402);
  kthread(4, 2, "kworker/0:1", 0x402);
  kthread(5, 2, "ksoftirqd/0", 1);
  user(200, 1, "sshd", 0, {"sshd: /usr/sbin/sshd -D [listener] 0 of 10-100 startups"}, {"LANG=C.UTF-8"});
  user(201, 200, "bash", 1000, {"-bash"}, {"USER=alice", "HOME=/home/alice", "PATH=/usr/bin:/bin", "EMPTY="});
  SyntheticProcess* worker = user(202, 201, "worker", 1000, {"./worker", "--jobs", "3"}, {"OMP_NUM_THREADS=3"});
  worker->extra_threads = {203, 204};
  {
    // More than a page of arguments (the fixture's rig_beta has 10150 bytes).
    std::vector<std::string> argv = {"/usr/bin/python3", "-c"};
    for (int i = 0; i < 60; ++i)
      argv.push_back("long_argument_" + std::to_string(i) +
                     "_abcdefghijklmnopqrstuvwxyz0123456789abcdefghijklmnopqrstuvwxyz");
    user(205, 201, "python3", 1000, argv, {"PYTHONPATH=/opt/lib"});
  }
  SyntheticProcess* setuid = user(206, 201, "passwd", 1000, {"passwd"}, {"USER=alice"});
  setuid->euid = 0;
  setuid->egid = 42;
  SyntheticProcess* zombie = user(207, 201, "defunct", 1000, {}, {});
  zombie->envp.clear();
  zombie->state = 0x80;  // TASK_DEAD
  zombie->exit_state = 0x20;  // EXIT_ZOMBIE
  user(208, 1, "a_very_long_name_for_comm", 0, {"/usr/local/bin/a_very_long_name_for_comm", "x"}, {"A=1"})->comm =
      "a_very_long_nam";
  user(300, 1, "ghost", 0, {"/tmp/.ghost", "--hide"}, {"HIDDEN=yes"})->hidden = true;
  return out;
}

std::vector<SyntheticModule> SyntheticLinux::default_modules() {
  std::vector<SyntheticModule> out;
  SyntheticModule a;
  a.name = "e1000";
  a.text_size = 0x6000;
  a.core_size = 0xa000;
  a.refcount = 0;
  out.push_back(a);
  SyntheticModule b;
  b.name = "ext4";
  b.text_size = 0x3000;
  b.core_size = 0x7000;
  b.refcount = 2;
  out.push_back(b);
  SyntheticModule c;
  c.name = "loading_mod";
  c.text_size = 0x1000;
  c.core_size = 0x3000;
  c.init_size = 0x2000;
  c.state = "MODULE_STATE_COMING";
  out.push_back(c);
  SyntheticModule d;
  d.name = "rootkit";
  d.hidden = true;
  out.push_back(d);
  return out;
}

SyntheticLinux::SyntheticLinux(SyntheticOptions options)
    : options_(std::move(options)), space_(std::make_unique<BufferSpace>()), layout_(std::make_unique<Layout>()) {
  if (options_.processes.empty()) options_.processes = default_processes();
  if (options_.modules.empty()) options_.modules = default_modules();
  if (options_.virtual_shift % k2M || options_.physical_shift % k2M)
    throw std::logic_error("SyntheticLinux: KASLR shifts must be 2 MiB multiples");
  if (options_.physical_shift + 0x1000000 + kKernelImageSize > kSlabStart)
    throw std::logic_error("SyntheticLinux: physical_shift too large");
  slab_next_ = kSlabStart;
  table_pool_next_ = kTablePoolStart;
  user_page_next_ = kUserPoolEnd;
  module_phys_next_ = kModulePoolStart;
  module_virt_next_ = kModuleArea;
  build_profile();
  build_kernel_mappings();
  build_banner();
  build_modules();
  build_tasks();
  build_files();
  build_rootkit_structures();
  build_hooks();
}

SyntheticLinux::~SyntheticLinux() = default;

std::string SyntheticLinux::banner() const {
  return "Linux version " + options_.release +
         " (builder@memscope) (gcc (Debian 12.2.0-14) 12.2.0, GNU ld 2.40) #1 SMP PREEMPT_DYNAMIC "
         "Synthetic 1.0 (2026-01-01)";
}

const SyntheticProcess& SyntheticLinux::process(int pid) const {
  for (const SyntheticProcess& p : options_.processes)
    if (p.pid == pid) return p;
  throw std::logic_error("SyntheticLinux: no process " + std::to_string(pid));
}

// --- Profile -------------------------------------------------------------

void SyntheticLinux::build_profile() {
  Layout& L = *layout_;
  L.base("char", 1, "char", true);
  L.base("unsigned char", 1, "char", false);
  L.base("_Bool", 1, "bool", false);
  L.base("short int", 2, "int", true);
  L.base("int", 4, "int", true);
  L.base("unsigned int", 4, "int", false);
  L.base("long int", 8, "int", true);
  L.base("long unsigned int", 8, "int", false);
  L.base("long long int", 8, "int", true);
  L.base("long long unsigned int", 8, "int", false);
  L.base("pointer", 8, "int", false);
  L.base("void", 0, "void", false);

  const json u32 = base_t("unsigned int"), i32 = base_t("int"), ulong = base_t("long unsigned int");
  const json u64 = base_t("long long unsigned int"), voidp = ptr_t(base_t("void"));

  // Offsets are deliberately unlike any real kernel's; even list_head keeps
  // `prev` first.
  L.record("list_head", 16, {{"prev", 0, ptr_t(struct_t("list_head"))}, {"next", 8, ptr_t(struct_t("list_head"))}});
  L.record("atomic_t", 4, {{"counter", 0, i32}});
  L.record("kuid_t", 4, {{"val", 0, u32}});
  L.record("kgid_t", 4, {{"val", 0, u32}});
  L.record("pgd_t", 8, {{"pgd", 0, ulong}});
  add_rootkit_types();

  json uid_type = options_.plain_uid ? u32 : struct_t("kuid_t");
  json gid_type = options_.plain_uid ? u32 : struct_t("kgid_t");
  L.record("cred", 0xa8,
           {{"usage", 0, struct_t("atomic_t")},
            {"uid", 0x14, uid_type},
            {"suid", 0x18, uid_type},
            {"sgid", 0x1c, gid_type},
            {"gid", 0x20, gid_type},
            {"euid", 0x28, uid_type},
            {"egid", 0x2c, gid_type}});

  std::vector<Layout::Field> signal_fields = {{"live", 0x10, struct_t("atomic_t")}, {"nr_threads", 0x24, i32}};
  if (options_.thread_list == ThreadListKind::kThreadNode)
    signal_fields.push_back({"thread_head", 0x50, struct_t("list_head")});
  L.record("signal_struct", 0x180, signal_fields);

  std::vector<Layout::Field> mm_fields = {{"pgd", 0x28, ptr_t(struct_t("pgd_t"))},
                                          {"start_stack", 0xa0, ulong},
                                          {"arg_start", 0xb8, ulong},
                                          {"env_end", 0xc0, ulong},
                                          {"arg_end", 0xc8, ulong},
                                          {"env_start", 0xd8, ulong}};
  std::vector<Layout::Field> mm_outer = {{"map_count", 0x180, i32}};
  for (const json& f : memory_mm_fields()) mm_outer.push_back({f.at("name"), f.at("offset"), f.at("type")});
  if (options_.anonymous_mm_fields) {
    L.record("unnamed_5a1e8c0f3b7d2e91", 0x100, mm_fields);
    mm_outer.push_back({"unnamed_field_0", 0x30, struct_t("unnamed_5a1e8c0f3b7d2e91"), true});
    L.record("mm_struct", 0x300, mm_outer);
  } else {
    for (auto& f : mm_fields) f.offset += 0x30;
    mm_fields.insert(mm_fields.end(), mm_outer.begin(), mm_outer.end());
    L.record("mm_struct", 0x300, mm_fields);
  }

  std::vector<Layout::Field> task = {
      {"flags", 0x3c, u32},
      {"tasks", 0x4a8, struct_t("list_head")},
      {"mm", 0x518, ptr_t(struct_t("mm_struct"))},
      {"active_mm", 0x520, ptr_t(struct_t("mm_struct"))},
      {"exit_state", 0x534, i32},
      {"pid", 0x5ec, i32},
      {"tgid", 0x5f0, i32},
      {"real_parent", 0x608, ptr_t(struct_t("task_struct"))},
      {"parent", 0x610, ptr_t(struct_t("task_struct"))},
      {"children", 0x618, struct_t("list_head")},
      {"sibling", 0x628, struct_t("list_head")},
      {"group_leader", 0x640, ptr_t(struct_t("task_struct"))},
      {"start_time", 0x720, u64},
      {"real_cred", 0x8d0, ptr_t(struct_t("cred"))},
      {"cred", 0x8d8, ptr_t(struct_t("cred"))},
      {"comm", 0x8e4, array_t(base_t("char"), 16)},
      {"signal", 0x950, ptr_t(struct_t("signal_struct"))},
  };
  if (options_.task_state == TaskStateField::kUnderscoreState)
    task.push_back({"__state", 0x1c, u32});
  else
    task.push_back({"state", 0x20, base_t("long int")});
  if (options_.thread_list == ThreadListKind::kThreadNode)
    task.push_back({"thread_node", 0x6b0, struct_t("list_head")});
  else
    task.push_back({"thread_group", 0x6a0, struct_t("list_head")});
  if (options_.start_time == StartTimeField::kStartBoottime)
    task.push_back({"start_boottime", 0x728, u64});
  else
    task.push_back({"real_start_time", 0x728, u64});
  for (const json& f : rootkit_task_fields()) task.push_back({f.at("name"), f.at("offset"), f.at("type")});
  L.record("task_struct", 0xd00, task);

  L.enumeration("module_state", {{"MODULE_STATE_LIVE", 0},
                                 {"MODULE_STATE_COMING", 1},
                                 {"MODULE_STATE_GOING", 2},
                                 {"MODULE_STATE_UNFORMED", 3}});
  std::vector<Layout::Field> module = {{"state", 0x04, enum_t("module_state")},
                                       {"list", 0x10, struct_t("list_head")},
                                       {"name", 0x30, array_t(base_t("char"), 56)},
                                       {"refcnt", 0x3a8, struct_t("atomic_t")}};
  switch (options_.module_layout) {
    case ModuleLayoutKind::kMemArray:
      L.enumeration("mod_mem_type", {{"MOD_TEXT", 0},
                                     {"MOD_DATA", 1},
                                     {"MOD_RODATA", 2},
                                     {"MOD_RO_AFTER_INIT", 3},
                                     {"MOD_INIT_TEXT", 4},
                                     {"MOD_INIT_DATA", 5},
                                     {"MOD_INIT_RODATA", 6},
                                     {"MOD_MEM_NUM_TYPES", 7}});
      L.record("module_memory", 0x58,
               {{"size", 0x00, u32}, {"base", 0x10, voidp}, {"mtn", 0x18, struct_t("mod_tree_node")}});
      module.push_back({"mem", 0x140, array_t(struct_t("module_memory"), 7)});
      break;
    case ModuleLayoutKind::kCoreLayout:
      L.record("module_layout", 0x50,
               {{"size", 0x00, u32},
                {"text_size", 0x04, u32},
                {"base", 0x08, voidp},
                {"ro_size", 0x10, u32},
                {"mtn", 0x18, struct_t("mod_tree_node")}});
      module.push_back({"init_layout", 0x180, struct_t("module_layout")});
      module.push_back({"core_layout", 0x1e0, struct_t("module_layout")});
      break;
    case ModuleLayoutKind::kModuleCore:
      module.push_back({"module_core", 0x180, voidp});
      module.push_back({"module_init", 0x188, voidp});
      module.push_back({"init_size", 0x190, u32});
      module.push_back({"core_size", 0x194, u32});
      module.push_back({"core_text_size", 0x19c, u32});
      break;
  }
  for (const json& f : rootkit_module_fields()) module.push_back({f.at("name"), f.at("offset"), f.at("type")});
  L.record("module", 0x3c0, module);
  add_memory_types();
  add_hook_types();

  json types = L.to_json_types();
  std::string banner_data = banner() + "\n";
  banner_data.push_back('\0');
  auto sym = [&](uint64_t offset, json type = json()) {
    json s = {{"address", kLinkText + offset}};
    if (!type.is_null()) s["type"] = type;
    return s;
  };
  json symbols = {
      {"_text", sym(0)},
      {"_stext", sym(0)},
      {"startup_64", sym(0)},
      {"linux_banner", sym(kBannerOffset, array_t(base_t("char"), 0))},
      {"init_task", sym(kInitTaskOffset, struct_t("task_struct"))},
      {"modules", sym(kModulesOffset, struct_t("list_head"))},
      {"page_offset_base", sym(kPageOffsetVarOffset, ulong)},
      {"phys_base", sym(kPhysBaseVarOffset, ulong)},
      {"init_cred", sym(kInitCredOffset, struct_t("cred"))},
      {"init_signals", sym(kInitSignalsOffset, struct_t("signal_struct"))},
      {"init_top_pgt", sym(kTopTableOffset, array_t(struct_t("pgd_t"), 512))},
      {"swapper_pg_dir", sym(kTopTableOffset, array_t(struct_t("pgd_t"), 512))},
  };
  symbols["linux_banner"]["constant_data"] = base64(banner_data);
  add_memory_symbols(symbols);
  add_hook_symbols(symbols);
  add_rootkit_symbols(symbols);
  profile_ = {
      {"metadata",
       {{"format", "6.2.0"},
        {"producer", {{"name", "memscope-synthetic"}, {"version", "1"}}},
        {"linux", {{"symbols", json::array({{{"kind", "symtab"}, {"name", "vmlinux-" + options_.release}}})}}}}},
      {"base_types", types["base_types"]},
      {"user_types", types["user_types"]},
      {"enums", types["enums"]},
      {"symbols", symbols},
  };
}

uint64_t SyntheticLinux::symbol_link_address(const std::string& name) const {
  auto it = profile_.at("symbols").find(name);
  if (it == profile_.at("symbols").end()) throw std::logic_error("SyntheticLinux: no symbol " + name);
  return it->at("address").get<uint64_t>();
}

uint64_t SyntheticLinux::offset_of(const std::string& type, const std::string& path) const {
  return layout_->resolve(type, path).offset;
}

// --- Memory ----------------------------------------------------------------

uint64_t SyntheticLinux::kernel_physical(uint64_t vaddr) const {
  for (const Region& r : regions_)
    if (vaddr - r.virt < r.size) return r.phys + (vaddr - r.virt);
  throw std::logic_error("SyntheticLinux: " + hex(vaddr) + " is not a built kernel address");
}

void SyntheticLinux::put_kernel(uint64_t vaddr, const void* bytes, size_t n) {
  // Page by page: module memory is not physically contiguous.
  const auto* in = static_cast<const uint8_t*>(bytes);
  for (size_t done = 0; done < n;) {
    uint64_t at = vaddr + done;
    size_t take = std::min<size_t>(n - done, kPage - at % kPage);
    space_->put(kernel_physical(at), in + done, take);
    done += take;
  }
}

void SyntheticLinux::put_field(uint64_t object, const std::string& type, const std::string& path, uint64_t value) {
  Layout::Resolved r = layout_->resolve(type, path);
  if (r.size == 0 || r.size > 8) throw std::logic_error("SyntheticLinux: " + type + "." + path + " is not a scalar");
  put_kernel(object + r.offset, &value, r.size);  // little-endian host
}

void SyntheticLinux::put_string_field(uint64_t object, const std::string& type, const std::string& path,
                                      const std::string& s) {
  Layout::Resolved r = layout_->resolve(type, path);
  std::string bytes = s.substr(0, r.size - 1);
  bytes.resize(r.size, '\0');
  put_kernel(object + r.offset, bytes.data(), bytes.size());
}

void SyntheticLinux::list_init(uint64_t head) {
  put_field(head, "list_head", "next", head);
  put_field(head, "list_head", "prev", head);
}

void SyntheticLinux::list_add_tail(uint64_t node, uint64_t head) {
  uint64_t prev_offset = layout_->resolve("list_head", "prev").offset;
  uint64_t last = space_->read_value<uint64_t>(kernel_physical(head + prev_offset));
  put_field(node, "list_head", "next", head);
  put_field(node, "list_head", "prev", last);
  put_field(last, "list_head", "next", node);
  put_field(head, "list_head", "prev", node);
}

uint64_t SyntheticLinux::slab_alloc(uint64_t size) {
  uint64_t at = (slab_next_ + 63) & ~uint64_t{63};
  if (at + size > kSlabEnd) throw std::logic_error("SyntheticLinux: slab pool exhausted");
  slab_next_ = at + size;
  space_->map(at, size);
  return direct_map(at);
}

uint64_t SyntheticLinux::user_page_alloc() {
  if (user_page_next_ - kPage < kUserPoolStart) throw std::logic_error("SyntheticLinux: user pool exhausted");
  user_page_next_ -= kPage;
  space_->map(user_page_next_, kPage);
  return user_page_next_;
}

void SyntheticLinux::build_kernel_mappings() {
  uint64_t table_phys = link_to_phys(kLinkText + kTopTableOffset);
  kernel_tables_ = std::make_unique<PageTableBuilder>(*space_, 4, table_phys);
  dtb_ = kernel_tables_->dtb();
  constexpr uint64_t kGlobal = 1ull << 8;
  for (uint64_t phys = 0; phys < kPhysicalEnd; phys += k2M)
    kernel_tables_->map_2m(direct_map(phys), phys, PageTableBuilder::kDefaultFlags | kGlobal);
  regions_.push_back({direct_map(0), 0, kPhysicalEnd});
  uint64_t text = kLinkText + options_.virtual_shift;
  for (uint64_t off = 0; off < kKernelImageSize; off += k2M)
    kernel_tables_->map_2m(text + off, link_to_phys(kLinkText) + off, PageTableBuilder::kDefaultFlags | kGlobal);
  // Kernel-image addresses resolve through the image region; listed first
  // so that they win over the direct map for the same bytes.
  regions_.insert(regions_.begin(), {text, link_to_phys(kLinkText), kKernelImageSize});
  put_kernel_u64(symbol_address("page_offset_base"), options_.page_offset_base);
  put_kernel_u64(symbol_address("phys_base"), options_.physical_shift - options_.virtual_shift);
}

void SyntheticLinux::build_banner() {
  std::string text = banner() + "\n";
  put_kernel(symbol_address("linux_banner"), text.c_str(), text.size() + 1);
}

void SyntheticLinux::build_modules() {
  uint64_t head = symbol_address("modules");
  list_init(head);
  for (const SyntheticModule& m : options_.modules) {
    if (m.core_size % kPage || m.init_size % kPage || m.core_size > kModuleInitOffset ||
        m.init_size > kModuleStride - kModuleInitOffset || m.core_size < m.text_size + kPage)
      throw std::logic_error("SyntheticLinux: module " + m.name + " has unusable sizes");
    uint64_t base = module_virt_next_;
    module_virt_next_ += kModuleStride;
    auto map_region = [&](uint64_t virt, uint64_t size) {
      for (uint64_t off = 0; off < size; off += kPage) {
        if (module_phys_next_ + kPage > kModulePoolEnd) throw std::logic_error("SyntheticLinux: module pool exhausted");
        // Pages are handed out two apart: module memory is not physically contiguous.
        uint64_t phys = module_phys_next_;
        module_phys_next_ += 2 * kPage;
        space_->map(phys, kPage);
        kernel_tables_->map_4k(virt + off, phys, PageTableBuilder::kDefaultFlags);
        regions_.push_back({virt + off, phys, kPage});
      }
    };
    map_region(base, m.core_size);
    uint64_t init_base = m.init_size ? base + kModuleInitOffset : 0;
    if (m.init_size) map_region(init_base, m.init_size);

    // THIS_MODULE lives in the module's own data, after its text.
    uint64_t mod = base + m.text_size + 0x40;
    module_by_name_[m.name] = mod;
    module_base_by_name_[m.name] = base;
    put_field(mod, "module", "state", static_cast<uint64_t>(layout_->constant("module_state", m.state)));
    put_string_field(mod, "module", "name", m.name);
    put_field(mod, "module", "refcnt.counter", static_cast<uint64_t>(m.refcount + 1));  // MODULE_REF_BASE
    switch (options_.module_layout) {
      case ModuleLayoutKind::kMemArray: {
        const uint64_t stride = layout_->record_size("module_memory");
        const uint64_t mem = mod + layout_->resolve("module", "mem").offset;
        auto region = [&](const char* type, uint64_t at, uint64_t size) {
          uint64_t entry = mem + stride * static_cast<uint64_t>(layout_->constant("mod_mem_type", type));
          put_field(entry, "module_memory", "base", size ? at : 0);
          put_field(entry, "module_memory", "size", size);
        };
        uint64_t data = m.core_size - m.text_size;
        region("MOD_TEXT", base, m.text_size);
        region("MOD_DATA", base + m.text_size, data - kPage);
        region("MOD_RODATA", base + m.core_size - kPage, kPage);
        region("MOD_INIT_TEXT", init_base, m.init_size);
        break;
      }
      case ModuleLayoutKind::kCoreLayout:
        put_field(mod, "module", "core_layout.base", base);
        put_field(mod, "module", "core_layout.size", m.core_size);
        put_field(mod, "module", "core_layout.text_size", m.text_size);
        put_field(mod, "module", "init_layout.base", init_base);
        put_field(mod, "module", "init_layout.size", m.init_size);
        break;
      case ModuleLayoutKind::kModuleCore:
        put_field(mod, "module", "module_core", base);
        put_field(mod, "module", "core_size", m.core_size);
        put_field(mod, "module", "core_text_size", m.text_size);
        put_field(mod, "module", "module_init", init_base);
        put_field(mod, "module", "init_size", m.init_size);
        break;
    }
    uint64_t list = mod + layout_->resolve("module", "list").offset;
    if (m.hidden)
      list_init(list);
    else
      list_add_tail(list, head);
  }
}

void SyntheticLinux::build_user_memory(const SyntheticProcess& p, BuiltProcess& built) {
  const uint64_t table_pages = options_.vmas == VmaIndexKind::kNone ? kTablesPerProcess : kTablesPerProcessWithMaps;
  if (table_pool_next_ + table_pages * kPage > kTablePoolEnd)
    throw std::logic_error("SyntheticLinux: page-table pool exhausted");
  PageTableBuilder tables(*space_, 4, table_pool_next_);
  table_pool_next_ += table_pages * kPage;
  built.dtb = tables.dtb();

  std::string args, env;
  for (const std::string& a : p.argv) args += a + '\0';
  for (const std::string& e : p.envp) env += e + '\0';
  std::string block = args + env;
  uint64_t start = kUserArgsBase + uint64_t(p.pid) * 0x100000 + kUserArgsPageOffset;
  uint64_t first_page = start & ~(kPage - 1);
  uint64_t end_page = (start + std::max<uint64_t>(block.size(), 1) + kPage - 1) & ~(kPage - 1);
  for (uint64_t va = first_page; va < end_page; va += kPage) {
    uint64_t phys = user_page_alloc();  // descending: consecutive pages are not contiguous
    tables.map_4k(va, phys, PageTableBuilder::kDefaultFlags | PageTableBuilder::kUser | PageTableBuilder::kNoExecute);
    uint64_t from = std::max(va, start), to = std::min(va + kPage, start + block.size());
    if (from < to) space_->put(phys + (from - va), block.data() + (from - start), to - from);
  }
  if (table_pages * kPage < tables.next_free_page() - tables.dtb())
    throw std::logic_error("SyntheticLinux: process tables overflow their pool slot");
  // Like Linux, every process sees the kernel half of the address space.
  for (unsigned i = 256; i < 512; ++i)
    tables.set_top_entry(i, space_->read_value<uint64_t>(dtb_ + i * 8));

  uint64_t mm = built.mm;
  put_field(mm, "mm_struct", "pgd", direct_map(built.dtb));
  put_field(mm, "mm_struct", "arg_start", start);
  put_field(mm, "mm_struct", "arg_end", start + args.size());
  put_field(mm, "mm_struct", "env_start", start + args.size());
  put_field(mm, "mm_struct", "env_end", start + block.size());
  put_field(mm, "mm_struct", "start_stack", first_page);
  put_field(mm, "mm_struct", "map_count", 7);
  if (options_.vmas != VmaIndexKind::kNone) build_memory_maps(p, built, tables, table_pages);
}

void SyntheticLinux::build_tasks() {
  const uint64_t task_size = layout_->record_size("task_struct");
  const uint64_t tasks_off = offset_of("task_struct", "tasks");
  const bool thread_node = options_.thread_list == ThreadListKind::kThreadNode;
  const std::string state_field = options_.task_state == TaskStateField::kUnderscoreState ? "__state" : "state";
  const std::string boot_field =
      options_.start_time == StartTimeField::kStartBoottime ? "start_boottime" : "real_start_time";

  // init_task (swapper/0) lives in the kernel image.
  const uint64_t init_task = symbol_address("init_task");
  task_by_tid_[0] = init_task;
  // Pass 1: addresses of every task, so parents may come in any order.
  for (const SyntheticProcess& p : options_.processes) {
    if (task_by_tid_.count(p.pid)) throw std::logic_error("SyntheticLinux: duplicate pid " + std::to_string(p.pid));
    BuiltProcess& built = process_by_pid_[p.pid];
    built.tasks.push_back(slab_alloc(task_size));
    task_by_tid_[p.pid] = built.tasks.back();
    for (int tid : p.extra_threads) {
      if (task_by_tid_.count(tid)) throw std::logic_error("SyntheticLinux: duplicate tid " + std::to_string(tid));
      built.tasks.push_back(slab_alloc(task_size));
      task_by_tid_[tid] = built.tasks.back();
    }
  }

  // A cred / signal_struct in the slab, or at `at` (init_cred, init_signals).
  auto new_cred = [&](uint32_t uid, uint32_t gid, uint32_t euid, uint32_t egid, uint64_t at = 0) {
    uint64_t cred = at ? at : slab_alloc(layout_->record_size("cred"));
    const char* value = options_.plain_uid ? "" : ".val";
    put_field(cred, "cred", "usage.counter", 4);
    put_field(cred, "cred", std::string("uid") + value, uid);
    put_field(cred, "cred", std::string("gid") + value, gid);
    put_field(cred, "cred", std::string("suid") + value, uid);
    put_field(cred, "cred", std::string("sgid") + value, gid);
    put_field(cred, "cred", std::string("euid") + value, euid);
    put_field(cred, "cred", std::string("egid") + value, egid);
    return cred;
  };
  auto new_signal = [&](uint64_t threads, uint64_t at = 0) {
    uint64_t signal = at ? at : slab_alloc(layout_->record_size("signal_struct"));
    put_field(signal, "signal_struct", "live.counter", threads);
    put_field(signal, "signal_struct", "nr_threads", threads);
    if (thread_node) list_init(signal + offset_of("signal_struct", "thread_head"));
    return signal;
  };
  // Fills one task_struct; `leader` is its group leader (itself for one).
  auto fill_task = [&](uint64_t task, int tid, int tgid, uint64_t leader, uint64_t parent, const std::string& comm,
                       uint32_t flags, uint64_t state, uint64_t exit_state, uint64_t mm, uint64_t cred, uint64_t signal,
                       uint64_t start_ns) {
    put_field(task, "task_struct", "pid", static_cast<uint32_t>(tid));
    put_field(task, "task_struct", "tgid", static_cast<uint32_t>(tgid));
    put_field(task, "task_struct", "flags", flags);
    put_field(task, "task_struct", state_field, state);
    put_field(task, "task_struct", "exit_state", exit_state);
    put_string_field(task, "task_struct", "comm", comm);
    put_field(task, "task_struct", "real_parent", parent);
    put_field(task, "task_struct", "parent", parent);
    put_field(task, "task_struct", "group_leader", leader);
    put_field(task, "task_struct", "mm", mm);
    put_field(task, "task_struct", "active_mm", mm);
    put_field(task, "task_struct", "real_cred", cred);
    put_field(task, "task_struct", "cred", cred);
    put_field(task, "task_struct", "signal", signal);
    put_field(task, "task_struct", "start_time", start_ns > 1000 ? start_ns - 1000 : 0);  // monotonic: a little less
    put_field(task, "task_struct", boot_field, start_ns);
    list_init(task + tasks_off);
    list_init(task + offset_of("task_struct", "children"));
    list_init(task + offset_of("task_struct", "sibling"));
    if (thread_node) {
      list_add_tail(task + offset_of("task_struct", "thread_node"), signal + offset_of("signal_struct", "thread_head"));
    } else if (leader == task) {
      list_init(task + offset_of("task_struct", "thread_group"));
    } else {
      list_add_tail(task + offset_of("task_struct", "thread_group"), leader + offset_of("task_struct", "thread_group"));
    }
  };

  fill_task(init_task, 0, 0, init_task, init_task, "swapper/0", kPfKthread, 0, 0, 0,
            new_cred(0, 0, 0, 0, symbol_address("init_cred")), new_signal(1, symbol_address("init_signals")), 0);

  // Pass 2: fill, link into the task list and the parents' children lists.
  for (const SyntheticProcess& p : options_.processes) {
    BuiltProcess& built = process_by_pid_[p.pid];
    auto parent_it = task_by_tid_.find(p.ppid);
    if (parent_it == task_by_tid_.end())
      throw std::logic_error("SyntheticLinux: parent " + std::to_string(p.ppid) + " of " + std::to_string(p.pid) +
                             " is not built");
    uint64_t parent = parent_it->second;
    uint64_t leader = built.tasks.front();
    uint64_t cred = new_cred(p.uid, p.gid, p.euid, p.egid);
    built.signal = new_signal(1 + p.extra_threads.size());
    if (p.has_mm()) {
      built.mm = slab_alloc(layout_->record_size("mm_struct"));
      build_user_memory(p, built);
    }
    uint32_t flags = p.kernel_thread ? kPfKthread : 0x400100;
    fill_task(leader, p.pid, p.pid, leader, parent, p.comm, flags, p.state, p.exit_state, built.mm, cred,
              built.signal, p.start_time_ns);
    for (size_t i = 0; i < p.extra_threads.size(); ++i)
      fill_task(built.tasks[i + 1], p.extra_threads[i], p.pid, leader, parent, p.comm, flags, p.state, 0, built.mm,
                cred, built.signal, p.start_time_ns + 1000 * (i + 1));
    list_add_tail(leader + offset_of("task_struct", "sibling"), parent + offset_of("task_struct", "children"));
    if (!p.hidden) list_add_tail(leader + tasks_off, init_task + tasks_off);
  }
}

// --- Addresses and corruption ------------------------------------------------

uint64_t SyntheticLinux::task_address(int tid) const {
  auto it = task_by_tid_.find(tid);
  if (it == task_by_tid_.end()) throw std::logic_error("SyntheticLinux: no task " + std::to_string(tid));
  return it->second;
}

uint64_t SyntheticLinux::mm_address(int pid) const { return process_by_pid_.at(pid).mm; }
uint64_t SyntheticLinux::process_dtb(int pid) const { return process_by_pid_.at(pid).dtb; }
uint64_t SyntheticLinux::module_address(const std::string& name) const { return module_by_name_.at(name); }
uint64_t SyntheticLinux::module_base(const std::string& name) const { return module_base_by_name_.at(name); }

void SyntheticLinux::set_task_pointer(int tid, const std::string& path, uint64_t value) {
  Layout::Resolved r = layout_->resolve("task_struct", path);
  if (r.size != 8) throw std::logic_error("SyntheticLinux: task_struct." + path + " is not pointer-sized");
  put_kernel(task_address(tid) + r.offset, &value, 8);
}

void SyntheticLinux::link_tasks_cycle(int from_pid, int to_pid) {
  set_task_pointer(from_pid, "tasks.next", task_address(to_pid) + offset_of("task_struct", "tasks"));
}

void SyntheticLinux::wild_task_next(int pid) { set_task_pointer(pid, "tasks.next", kUnmappedKernelAddress); }

void SyntheticLinux::set_arg_end(int pid, uint64_t arg_end) {
  uint64_t mm = mm_address(pid);
  if (!mm) throw std::logic_error("SyntheticLinux: process " + std::to_string(pid) + " has no mm");
  put_field(mm, "mm_struct", "arg_end", arg_end);
}

// --- Output --------------------------------------------------------------------

void SyntheticLinux::write_profile(const std::string& path) const {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << profile_.dump(1);
  if (!out.flush()) throw std::runtime_error("SyntheticLinux: cannot write " + path);
}

void SyntheticLinux::write_lime(const std::string& path) { write_lime_image(*space_, collect_ranges(*space_), path); }

void SyntheticLinux::write_raw(const std::string& path) { write_raw_image(*space_, collect_ranges(*space_), path); }

void SyntheticLinux::write_elf(const std::string& path) {
  ImageNotes notes;
  std::string text;
  text += "OSRELEASE=" + options_.release + "\n";
  text += "PAGESIZE=4096\n";
  text += "SYMBOL(swapper_pg_dir)=" + hex_digits(symbol_address("swapper_pg_dir")) + "\n";
  text += "SYMBOL(_stext)=" + hex_digits(symbol_address("_stext")) + "\n";
  text += "SIZE(list_head)=16\n";
  text += "OFFSET(list_head.next)=" + std::to_string(offset_of("list_head", "next")) + "\n";
  text += "OFFSET(list_head.prev)=" + std::to_string(offset_of("list_head", "prev")) + "\n";
  text += "NUMBER(phys_base)=" +
          std::to_string(static_cast<int64_t>(options_.physical_shift - options_.virtual_shift)) + "\n";
  text += "SYMBOL(init_top_pgt)=" + hex_digits(symbol_address("init_top_pgt")) + "\n";
  text += "NUMBER(pgtable_l5_enabled)=0\n";
  text += "KERNELOFFSET=" + hex_digits(options_.virtual_shift) + "\n";
  notes.set_vmcoreinfo(text);
  CpuState cpu;
  cpu.cr0 = 0x80050033;
  cpu.cr3 = dtb_;
  cpu.cr4 = 0x3606f0;
  notes.cpus.push_back(cpu);
  write_elf_core(*space_, collect_ranges(*space_), notes, path);
}

}  // namespace memscope::test
