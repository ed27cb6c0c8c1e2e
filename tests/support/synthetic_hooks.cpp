// The kernel's hook points in the synthetic image (SyntheticOptions::hooks):
// system call tables, the IDT, ftrace ops, netfilter hooks of two network
// namespaces, tty drivers with an open tty and its line discipline, and the
// keyboard notifier chain; all clean (every handler in kernel text, or in
// the text of the module that owns the structure), with hooks that plant a
// rootkit's pointer or damage a structure.
//
// Offsets are unusual again (notifier_block keeps priority first,
// ftrace_func_entry its ip before the hlist node, nf_hook_entry priv before
// hook); only the IDT gate keeps the architecture's layout, which the CPU
// fixes.
#include <cstring>
#include <stdexcept>

#include "core/util/hex.h"
#include "support/synthetic_layout.h"
#include "support/synthetic_linux.h"

namespace memscope::test {
namespace {

using namespace synthetic;

constexpr uint64_t kPage = 4096;

// Kernel text: [_stext, _etext) = the first MiB of the image; functions
// from kFunctions on.
constexpr uint64_t kEtextOffset = 0x100000;
constexpr uint64_t kFunctions = 0x10000;
// Kernel data for the hook points (free in the base image).
constexpr uint64_t kHookData = 0x540000;
constexpr uint64_t kHookDataEnd = 0x548000;
constexpr uint64_t kSysCallTable = kHookData + 0x0000;
constexpr uint64_t kIa32SysCallTable = kHookData + 0x0200;
constexpr uint64_t kIdtTable = kHookData + 0x1000;
constexpr uint64_t kFtraceOpsList = kHookData + 0x2000;
constexpr uint64_t kFtraceListEnd = kHookData + 0x2040;
constexpr uint64_t kKeyboardNotifierList = kHookData + 0x2100;
constexpr uint64_t kTtyDrivers = kHookData + 0x2200;
constexpr uint64_t kNetNamespaceList = kHookData + 0x2300;
constexpr uint64_t kTtyLdiscs = kHookData + 0x2400;
constexpr uint64_t kNttyOps = kHookData + 0x2800;
constexpr uint64_t kSerialOps = kHookData + 0x2900;
constexpr uint64_t kStrings = kHookData + 0x2a00;
constexpr uint64_t kInitNet = kHookData + 0x3000;
constexpr uint64_t kNfHooks = kHookData + 0x5000;  // the global nf_hooks (before 4.3)
// Where an unmappable table is placed: past the image's 8 MiB mapping.
constexpr uint64_t kUnmappedTable = 0x900000;

const char* const kSyscallNames[] = {"read",  "write",    "open",   "close",  "newstat",      "newfstat",
                                     "newlstat", "poll",   "lseek",  "mmap",   "mprotect",     "munmap",
                                     "brk",   "rt_sigaction", "rt_sigprocmask", "ioctl"};
constexpr unsigned kSyscalls = SyntheticLinux::kHookSyscalls;
static_assert(std::size(kSyscallNames) == kSyscalls);
constexpr unsigned kIa32Syscalls = SyntheticLinux::kHookIa32Syscalls;
constexpr unsigned kIrqVectorsFrom = 32;
constexpr unsigned kAbsentVector = SyntheticLinux::kAbsentIdtVector;

const char* const kSerialOperations[] = {"open", "close", "write", "put_char", "ioctl"};
const char* const kNttyOperations[] = {"open", "close", "read", "write", "receive_buf"};

// Text offsets of the named functions.
uint64_t syscall_function(unsigned i) { return kFunctions + 0x40 * i; }
uint64_t ia32_function(unsigned i) { return kFunctions + 0x1000 + 0x40 * i; }
uint64_t exception_function(unsigned v) { return kFunctions + 0x2000 + 0x40 * v; }
constexpr uint64_t kIrqEntries = kFunctions + 0x3000;  // 8 bytes per vector
constexpr uint64_t kNfIpv4PostRoute = kFunctions + 0x4000;
constexpr uint64_t kNfIpv6LocalIn = kFunctions + 0x4040;
constexpr uint64_t kNfIpv6LocalIn2 = kFunctions + 0x4080;
uint64_t serial_function(unsigned i) { return kFunctions + 0x5000 + 0x40 * i; }
uint64_t ntty_function(unsigned i) { return kFunctions + 0x5400 + 0x40 * i; }
constexpr uint64_t kKeyboardCallback = kFunctions + 0x6000;
constexpr uint64_t kFtraceCallback = kFunctions + 0x6100;

// The [family][hook] matrices of 4.x: NFPROTO_NUMPROTO x NF_MAX_HOOKS,
// indexed by the NFPROTO_* values (include/uapi/linux/netfilter.h).
constexpr unsigned kNfProtocols = 13, kNfMaxHooks = 8;
unsigned nfproto(const std::string& family) {
  static const std::pair<const char*, unsigned> kValues[] = {{"ipv4", 2},   {"arp", 3},   {"netdev", 5},
                                                            {"bridge", 7}, {"ipv6", 10}, {"decnet", 12}};
  for (const auto& [name, value] : kValues)
    if (family == name) return value;
  throw std::logic_error("SyntheticLinux: no NFPROTO value for " + family);
}

}  // namespace

// What the builder keeps to apply the hooks after the build.
struct SyntheticLinux::HookState {
  std::vector<uint64_t> ftrace_ops;  // in list order
  std::vector<uint64_t> keyboard_blocks;
  uint64_t second_net = 0;
  uint64_t serial_driver = 0, module_driver = 0;
  uint64_t module_tty_ops = 0;
  uint64_t ntty_ops = 0;
  uint64_t tty = 0;
};

void SyntheticLinux::add_hook_types() {
  if (!options_.hooks) return;
  Layout& L = *layout_;
  const json fn = ptr_t(json{{"kind", "function"}}), voidp = ptr_t(base_t("void")), charp = ptr_t(base_t("char"));
  const json u16 = base_t("short unsigned int"), u32 = base_t("unsigned int"), i32 = base_t("int");
  const json ulong = base_t("long unsigned int");
  L.base("short unsigned int", 2, "int", false);

  // The gate: its layout is the architecture's (Intel SDM vol. 3, 6.14.1).
  L.record("gate_struct", 16,
           {{"offset_low", 0, u16}, {"segment", 2, u16}, {"offset_middle", 6, u16}, {"offset_high", 8, u32},
            {"reserved", 12, u32}});

  L.record("notifier_block", 0x18, {{"priority", 0, i32}, {"next", 8, ptr_t(struct_t("notifier_block"))},
                                     {"notifier_call", 0x10, fn}});
  L.record("atomic_notifier_head", 0x18, {{"lock", 0, u32}, {"head", 0x10, ptr_t(struct_t("notifier_block"))}});

  // hlist types may come from another part of the builder; define them once.
  try {
    (void)L.record_size("hlist_node");
  } catch (const std::out_of_range&) {
    L.record("hlist_node", 16, {{"pprev", 0, ptr_t(ptr_t(struct_t("hlist_node")))},
                                {"next", 8, ptr_t(struct_t("hlist_node"))}});
  }
  try {
    (void)L.record_size("hlist_head");
  } catch (const std::out_of_range&) {
    L.record("hlist_head", 8, {{"first", 0, ptr_t(struct_t("hlist_node"))}});
  }
  L.record("ftrace_func_entry", 0x20, {{"ip", 0, ulong}, {"hlist", 8, struct_t("hlist_node")}, {"direct", 0x18, ulong}});
  L.record("ftrace_hash", 0x30, {{"size_bits", 0, ulong}, {"buckets", 8, ptr_t(struct_t("hlist_head"))},
                                  {"count", 0x10, ulong}, {"flags", 0x18, ulong}});
  L.record("ftrace_ops_hash", 0x30, {{"notrace_hash", 0, ptr_t(struct_t("ftrace_hash"))},
                                     {"filter_hash", 8, ptr_t(struct_t("ftrace_hash"))}});
  L.record("ftrace_ops", 0x80, {{"flags", 0x08, ulong}, {"func", 0x20, fn}, {"next", 0x30, ptr_t(struct_t("ftrace_ops"))},
                                {"func_hash", 0x50, ptr_t(struct_t("ftrace_ops_hash"))}, {"trampoline", 0x60, ulong}});
  // NR_syscalls, as the kernel sizes trace_array's per-syscall files.
  L.record("trace_array", 0x40 + 8 * kSyscalls,
           {{"enter_syscall_files", 0x40, array_t(voidp, kSyscalls)}});

  L.record("tty_operations", 0x40, {{"open", 0x00, fn}, {"close", 0x08, fn}, {"write", 0x10, fn},
                                    {"put_char", 0x18, fn}, {"ioctl", 0x28, fn}, {"lookup_count", 0x30, u32}});
  L.record("tty_ldisc_ops", 0x70, {{"num", 0, i32}, {"name", 8, charp}, {"open", 0x10, fn}, {"close", 0x18, fn},
                                   {"read", 0x20, fn}, {"write", 0x28, fn}, {"receive_buf", 0x48, fn},
                                   {"owner", 0x60, ptr_t(struct_t("module"))}});
  L.record("tty_ldisc", 0x10, {{"tty", 0, ptr_t(struct_t("tty_struct"))}, {"ops", 8, ptr_t(struct_t("tty_ldisc_ops"))}});
  L.record("tty_driver", 0xc0, {{"owner", 0x10, ptr_t(struct_t("module"))}, {"driver_name", 0x18, charp},
                                {"name", 0x20, charp}, {"num", 0x34, u32},
                                {"ttys", 0x80, ptr_t(ptr_t(struct_t("tty_struct")))},
                                {"ops", 0xa0, ptr_t(struct_t("tty_operations"))},
                                {"tty_drivers", 0xa8, struct_t("list_head")}});
  L.record("tty_struct", 0x2d0, {{"driver", 0x10, ptr_t(struct_t("tty_driver"))},
                                 {"ops", 0x18, ptr_t(struct_t("tty_operations"))}, {"index", 0x20, i32},
                                 {"ldisc", 0x58, ptr_t(struct_t("tty_ldisc"))},
                                 {"name", 0x160, array_t(base_t("char"), 64)}});

  L.enumeration("nf_inet_hooks", {{"NF_INET_PRE_ROUTING", 0},
                                  {"NF_INET_LOCAL_IN", 1},
                                  {"NF_INET_FORWARD", 2},
                                  {"NF_INET_LOCAL_OUT", 3},
                                  {"NF_INET_POST_ROUTING", 4},
                                  {"NF_INET_NUMHOOKS", 5}});
  const NetfilterLayoutKind nf = options_.netfilter_layout;
  const bool lists = nf == NetfilterLayoutKind::kOpsLists || nf == NetfilterLayoutKind::kGlobalLists;
  // nf_hook_ops: on a list_head of its own before 4.10.
  std::vector<SyntheticLinux::Layout::Field> ops_members = {
      {"hook", 0x10, fn}, {"pf", 0x28, base_t("unsigned char")}, {"hooknum", 0x2c, u32}, {"priority", 0x30, i32}};
  if (lists) ops_members.push_back({"list", 0, struct_t("list_head")});
  L.record("nf_hook_ops", 0x38, ops_members);
  if (nf == NetfilterLayoutKind::kEntryChains) {
    // 4.10-4.13: a chain of entries, each holding a copy of its ops.
    L.record("nf_hook_entry", 0x50, {{"next", 0, ptr_t(struct_t("nf_hook_entry"))},
                                     {"ops", 8, struct_t("nf_hook_ops")},
                                     {"orig_ops", 0x40, ptr_t(struct_t("nf_hook_ops"))}});
  } else if (!lists) {
    L.record("nf_hook_entry", 0x10, {{"priv", 0, voidp}, {"hook", 8, fn}});
    L.record("nf_hook_entries", 8,
             {{"num_hook_entries", 0, u16}, {"hooks", 8, array_t(struct_t("nf_hook_entry"), 0)}});
  }
  if (nf != NetfilterLayoutKind::kFamilyArrays)
    // An anonymous enum in the kernel; found by its enumerators.
    L.enumeration("nfproto", {{"NFPROTO_UNSPEC", 0},
                              {"NFPROTO_INET", 1},
                              {"NFPROTO_IPV4", 2},
                              {"NFPROTO_ARP", 3},
                              {"NFPROTO_NETDEV", 5},
                              {"NFPROTO_BRIDGE", 7},
                              {"NFPROTO_IPV6", 10},
                              {"NFPROTO_DECNET", 12},
                              {"NFPROTO_NUMPROTO", 13}});
  const json matrix_element = nf == NetfilterLayoutKind::kEntriesMatrix ? ptr_t(struct_t("nf_hook_entries"))
                              : nf == NetfilterLayoutKind::kEntryChains ? ptr_t(struct_t("nf_hook_entry"))
                                                                        : struct_t("list_head");
  const json matrix = array_t(array_t(matrix_element, kNfMaxHooks), kNfProtocols);
  if (nf == NetfilterLayoutKind::kFamilyArrays) {
    const json entries = ptr_t(struct_t("nf_hook_entries"));
    L.record("netns_nf", 0x100, {{"hooks_ipv4", 0x68, array_t(entries, 5)}, {"hooks_ipv6", 0x90, array_t(entries, 5)},
                                 {"hooks_arp", 0xb8, array_t(entries, 3)}, {"hooks_bridge", 0xd0, array_t(entries, 5)}});
  } else if (nf != NetfilterLayoutKind::kGlobalLists) {
    L.record("netns_nf", 0x700, {{"hooks", 0x18, matrix}});
  }
  L.record("ns_common", 0x18, {{"inum", 0x10, u32}});
  std::vector<SyntheticLinux::Layout::Field> net_members = {{"list", 0x20, struct_t("list_head")},
                                                            {"ns", 0x80, struct_t("ns_common")}};
  if (nf != NetfilterLayoutKind::kGlobalLists) net_members.push_back({"nf", 0xa38, struct_t("netns_nf")});
  L.record("net", 0x1180, net_members);
}

void SyntheticLinux::add_hook_symbols(nlohmann::json& symbols) const {
  if (!options_.hooks) return;
  // Nothing else of the builder may sit in the hook data.
  for (const auto& [name, s] : symbols.items()) {
    uint64_t offset = s.at("address").get<uint64_t>() - kLinkText;
    if (offset >= kHookData && offset < kHookDataEnd)
      throw std::logic_error("SyntheticLinux: symbol " + name + " lies in the hook data area");
  }
  auto sym = [&](const std::string& name, uint64_t offset, json type = json()) {
    json s = {{"address", kLinkText + offset}};
    if (!type.is_null()) s["type"] = type;
    symbols[name] = s;
  };
  const json fn = ptr_t(json{{"kind", "function"}});
  sym("_etext", kEtextOffset, array_t(base_t("char"), 0));
  sym("_end", 0x800000, array_t(base_t("char"), 0));
  // The x86_64 table's length comes from trace_array (its own type has
  // none, as in real ISFs); the ia32 table's from its type.
  sym("sys_call_table", kSysCallTable, array_t(fn, 0));
  sym("ia32_sys_call_table", kIa32SysCallTable, array_t(fn, kIa32Syscalls));
  sym("idt_table", kIdtTable, array_t(struct_t("gate_struct"), 256));
  sym("ftrace_ops_list", kFtraceOpsList, ptr_t(struct_t("ftrace_ops")));
  sym("ftrace_list_end", kFtraceListEnd, struct_t("ftrace_ops"));
  sym("keyboard_notifier_list", kKeyboardNotifierList, struct_t("atomic_notifier_head"));
  sym("tty_drivers", kTtyDrivers, struct_t("list_head"));
  sym("tty_ldiscs", kTtyLdiscs, array_t(ptr_t(struct_t("tty_ldisc_ops")), 4));
  sym("net_namespace_list", kNetNamespaceList, struct_t("list_head"));
  sym("init_net", kInitNet, struct_t("net"));
  if (options_.netfilter_layout == NetfilterLayoutKind::kGlobalLists)
    sym("nf_hooks", kNfHooks, array_t(array_t(struct_t("list_head"), kNfMaxHooks), kNfProtocols));
  for (unsigned i = 0; i < kSyscalls; ++i) sym(std::string("__x64_sys_") + kSyscallNames[i], syscall_function(i));
  for (unsigned i = 0; i < kIa32Syscalls; ++i) sym("__ia32_sys_" + std::to_string(i), ia32_function(i));
  for (unsigned v = 0; v < kIrqVectorsFrom; ++v) sym("asm_exc_" + std::to_string(v), exception_function(v));
  sym("irq_entries_start", kIrqEntries);
  sym("nf_ipv4_postroute", kNfIpv4PostRoute);
  sym("nf_ipv6_local_in", kNfIpv6LocalIn);
  sym("nf_ipv6_local_in_late", kNfIpv6LocalIn2);
  for (unsigned i = 0; i < std::size(kSerialOperations); ++i)
    sym(std::string("uart_") + kSerialOperations[i], serial_function(i));
  for (unsigned i = 0; i < std::size(kNttyOperations); ++i)
    sym(std::string("n_tty_") + kNttyOperations[i], ntty_function(i));
  sym("kbd_synthetic_notify", kKeyboardCallback);
  sym("ftrace_synthetic_callback", kFtraceCallback);
}

void SyntheticLinux::build_hooks() {
  if (!options_.hooks) return;
  hooks_ = std::make_shared<HookState>();
  HookState& h = *hooks_;
  auto text = [&](uint64_t offset) { return kLinkText + options_.virtual_shift + offset; };
  auto data = [&](uint64_t offset) { return kLinkText + options_.virtual_shift + offset; };
  auto zero = [&](uint64_t at, uint64_t size) {
    std::vector<uint8_t> zeros(size);
    put_kernel(at, zeros.data(), zeros.size());
  };
  auto alloc = [&](const std::string& type) {
    uint64_t size = layout_->record_size(type);
    uint64_t at = slab_alloc(size);
    zero(at, size);
    return at;
  };
  zero(data(kHookData), kHookDataEnd - kHookData);

  // System call tables.
  for (unsigned i = 0; i < kSyscalls; ++i) put_kernel_u64(data(kSysCallTable) + 8 * i, text(syscall_function(i)));
  for (unsigned i = 0; i < kIa32Syscalls; ++i) put_kernel_u64(data(kIa32SysCallTable) + 8 * i, text(ia32_function(i)));

  // IDT: exceptions, then the IRQ entry stubs.
  for (unsigned v = 0; v < 256; ++v) {
    if (v == kAbsentVector) continue;
    write_gate(v, v < kIrqVectorsFrom ? text(exception_function(v)) : text(kIrqEntries + 8 * (v - kIrqVectorsFrom)));
  }

  // ftrace: one clean ops, attached to read and write, then the sentinel.
  uint64_t end = data(kFtraceListEnd);
  put_field(end, "ftrace_ops", "next", end);
  put_kernel_u64(data(kFtraceOpsList), end);
  add_ftrace_ops(text(kFtraceCallback), {text(syscall_function(0)), text(syscall_function(1))});

  // The keyboard notifier chain: one clean callback.
  add_keyboard_notifier(text(kKeyboardCallback), 0);

  // Network namespaces: init_net and a second one, on net_namespace_list.
  list_init(data(kNetNamespaceList));
  uint64_t init_net = data(kInitNet);
  put_field(init_net, "net", "ns.inum", 4026531840u);
  list_add_tail(init_net + offset_of("net", "list"), data(kNetNamespaceList));
  h.second_net = alloc("net");
  put_field(h.second_net, "net", "ns.inum", 4026532200u);
  list_add_tail(h.second_net + offset_of("net", "list"), data(kNetNamespaceList));
  // Lists of hooks start empty (self-linked) in every namespace.
  const NetfilterLayoutKind nf = options_.netfilter_layout;
  std::vector<uint64_t> matrices;
  if (nf == NetfilterLayoutKind::kOpsLists)
    matrices = {init_net + offset_of("net", "nf.hooks"), h.second_net + offset_of("net", "nf.hooks")};
  if (nf == NetfilterLayoutKind::kGlobalLists) matrices = {data(kNfHooks)};
  for (uint64_t matrix : matrices)
    for (unsigned i = 0; i < kNfProtocols * kNfMaxHooks; ++i) list_init(matrix + i * layout_->record_size("list_head"));
  add_netfilter_hook("ipv4", 4, text(kNfIpv4PostRoute), -225);
  add_netfilter_hook("ipv6", 1, text(kNfIpv6LocalIn), 0);
  add_netfilter_hook("ipv6", 1, text(kNfIpv6LocalIn2), 100);

  // tty: the n_tty line discipline (registered, and used by the open
  // ttyS0), the built-in serial driver, and a driver owned by the first
  // listed module whose operations live in that module.
  put_kernel(data(kStrings), "n_tty", 6);
  put_kernel(data(kStrings) + 0x10, "serial", 7);
  put_kernel(data(kStrings) + 0x20, "ttyS", 5);
  put_kernel(data(kStrings) + 0x30, "modtty", 7);
  h.ntty_ops = data(kNttyOps);
  put_field(h.ntty_ops, "tty_ldisc_ops", "name", data(kStrings));
  for (unsigned i = 0; i < std::size(kNttyOperations); ++i)
    put_field(h.ntty_ops, "tty_ldisc_ops", kNttyOperations[i], text(ntty_function(i)));
  put_kernel_u64(data(kTtyLdiscs), h.ntty_ops);
  for (unsigned i = 0; i < std::size(kSerialOperations); ++i)
    put_field(data(kSerialOps), "tty_operations", kSerialOperations[i], text(serial_function(i)));
  list_init(data(kTtyDrivers));

  h.serial_driver = alloc("tty_driver");
  put_field(h.serial_driver, "tty_driver", "driver_name", data(kStrings) + 0x10);
  put_field(h.serial_driver, "tty_driver", "name", data(kStrings) + 0x20);
  put_field(h.serial_driver, "tty_driver", "ops", data(kSerialOps));
  put_field(h.serial_driver, "tty_driver", "num", 4);
  uint64_t ttys = slab_alloc(4 * 8);
  zero(ttys, 4 * 8);
  put_field(h.serial_driver, "tty_driver", "ttys", ttys);
  list_add_tail(h.serial_driver + offset_of("tty_driver", "tty_drivers"), data(kTtyDrivers));
  h.tty = alloc("tty_struct");
  uint64_t ldisc = alloc("tty_ldisc");
  put_field(ldisc, "tty_ldisc", "tty", h.tty);
  put_field(ldisc, "tty_ldisc", "ops", h.ntty_ops);
  put_field(h.tty, "tty_struct", "driver", h.serial_driver);
  put_field(h.tty, "tty_struct", "ops", data(kSerialOps));
  put_field(h.tty, "tty_struct", "ldisc", ldisc);
  put_string_field(h.tty, "tty_struct", "name", "ttyS0");
  put_kernel_u64(ttys, h.tty);

  const SyntheticModule* owner = nullptr;
  for (const SyntheticModule& m : options_.modules)
    if (!m.hidden) {
      owner = &m;
      break;
    }
  if (owner) {
    // The ops live in the module's data, the functions in its text.
    const uint64_t base = module_base(owner->name);
    h.module_tty_ops = base + owner->text_size + 0x800;
    zero(h.module_tty_ops, layout_->record_size("tty_operations"));
    put_field(h.module_tty_ops, "tty_operations", "write", base + 0x100);
    put_field(h.module_tty_ops, "tty_operations", "open", base + 0x140);
    h.module_driver = alloc("tty_driver");
    put_field(h.module_driver, "tty_driver", "driver_name", data(kStrings) + 0x30);
    put_field(h.module_driver, "tty_driver", "name", data(kStrings) + 0x30);
    put_field(h.module_driver, "tty_driver", "owner", module_address(owner->name));
    put_field(h.module_driver, "tty_driver", "ops", h.module_tty_ops);
    list_add_tail(h.module_driver + offset_of("tty_driver", "tty_drivers"), data(kTtyDrivers));
  }
}

void SyntheticLinux::write_gate(unsigned vector, uint64_t handler) {
  uint8_t gate[16] = {};
  const uint16_t low = handler & 0xffff, middle = (handler >> 16) & 0xffff, kernel_cs = 0x10;
  const uint32_t high = static_cast<uint32_t>(handler >> 32);
  const uint16_t bits = 0x8e00;  // present, DPL 0, interrupt gate, IST 0
  std::memcpy(gate + offset_of("gate_struct", "offset_low"), &low, 2);
  std::memcpy(gate + offset_of("gate_struct", "segment"), &kernel_cs, 2);
  std::memcpy(gate + 4, &bits, 2);
  std::memcpy(gate + offset_of("gate_struct", "offset_middle"), &middle, 2);
  std::memcpy(gate + offset_of("gate_struct", "offset_high"), &high, 4);
  put_kernel(symbol_address("idt_table") + 16 * vector, gate, sizeof gate);
}

uint64_t SyntheticLinux::module_code(const std::string& module, uint64_t offset) const {
  return module_base(module) + offset;
}

void SyntheticLinux::hook_syscall(unsigned index, uint64_t target) {
  put_kernel_u64(symbol_address("sys_call_table") + 8 * index, target);
}

void SyntheticLinux::hook_idt(unsigned vector, uint64_t target) { write_gate(vector, target); }

uint64_t SyntheticLinux::add_ftrace_ops(uint64_t func, const std::vector<uint64_t>& targets) {
  if (!hooks_) throw std::logic_error("SyntheticLinux: built without hooks");
  uint64_t ops = slab_alloc(layout_->record_size("ftrace_ops"));
  std::vector<uint8_t> zeros(layout_->record_size("ftrace_ops"));
  put_kernel(ops, zeros.data(), zeros.size());
  put_field(ops, "ftrace_ops", "func", func);
  put_field(ops, "ftrace_ops", "flags", 0x1);  // FTRACE_OPS_FL_ENABLED
  if (!targets.empty()) {
    // A hash of 2^2 buckets; entries spread by ip.
    const uint64_t bits = 2, buckets = slab_alloc(8 << bits);
    for (uint64_t b = 0; b < (1u << bits); ++b) put_kernel_u64(buckets + 8 * b, 0);
    uint64_t hash = slab_alloc(layout_->record_size("ftrace_hash"));
    put_field(hash, "ftrace_hash", "size_bits", bits);
    put_field(hash, "ftrace_hash", "buckets", buckets);
    put_field(hash, "ftrace_hash", "count", targets.size());
    put_field(hash, "ftrace_hash", "flags", 0);
    for (uint64_t ip : targets) {
      uint64_t entry = slab_alloc(layout_->record_size("ftrace_func_entry"));
      uint64_t node = entry + offset_of("ftrace_func_entry", "hlist");
      uint64_t bucket = buckets + 8 * ((ip >> 6) & ((1u << bits) - 1));
      uint64_t first = space_->read_value<uint64_t>(kernel_physical(bucket));
      put_field(entry, "ftrace_func_entry", "ip", ip);
      put_field(entry, "ftrace_func_entry", "direct", 0);
      put_field(node, "hlist_node", "next", first);
      put_field(node, "hlist_node", "pprev", bucket);
      if (first) put_field(first, "hlist_node", "pprev", node + offset_of("hlist_node", "next"));
      put_kernel_u64(bucket, node);
    }
    uint64_t func_hash = slab_alloc(layout_->record_size("ftrace_ops_hash"));
    put_field(func_hash, "ftrace_ops_hash", "notrace_hash", 0);
    put_field(func_hash, "ftrace_ops_hash", "filter_hash", hash);
    put_field(ops, "ftrace_ops", "func_hash", func_hash);
  }
  // Added at the head, as __register_ftrace_function does.
  const uint64_t list = symbol_address("ftrace_ops_list");
  put_field(ops, "ftrace_ops", "next", space_->read_value<uint64_t>(kernel_physical(list)));
  put_kernel_u64(list, ops);
  hooks_->ftrace_ops.insert(hooks_->ftrace_ops.begin(), ops);
  return ops;
}

uint64_t SyntheticLinux::add_keyboard_notifier(uint64_t callback, int priority) {
  if (!hooks_) throw std::logic_error("SyntheticLinux: built without hooks");
  uint64_t block = slab_alloc(layout_->record_size("notifier_block"));
  put_field(block, "notifier_block", "notifier_call", callback);
  put_field(block, "notifier_block", "priority", static_cast<uint32_t>(priority));
  // Chains are sorted by priority, highest first; new ones go to the head
  // here, which keeps that order for the priorities the tests use.
  const uint64_t head = symbol_address("keyboard_notifier_list") + offset_of("atomic_notifier_head", "head");
  put_field(block, "notifier_block", "next", space_->read_value<uint64_t>(kernel_physical(head)));
  put_kernel_u64(head, block);
  hooks_->keyboard_blocks.insert(hooks_->keyboard_blocks.begin(), block);
  return block;
}

// Where init_net keeps `family`'s hook `hook`: a pointer (to an
// nf_hook_entries blob or the first nf_hook_entry of a chain) or, for the
// list layouts, a list_head.
uint64_t SyntheticLinux::netfilter_slot(const std::string& family, unsigned hook) const {
  const NetfilterLayoutKind nf = options_.netfilter_layout;
  if (nf == NetfilterLayoutKind::kFamilyArrays)
    return symbol_address("init_net") + offset_of("net", "nf.hooks_" + family) + 8 * hook;
  const uint64_t element = nf == NetfilterLayoutKind::kOpsLists || nf == NetfilterLayoutKind::kGlobalLists
                               ? layout_->record_size("list_head")
                               : 8;
  const uint64_t matrix = nf == NetfilterLayoutKind::kGlobalLists
                              ? symbol_address("nf_hooks")
                              : symbol_address("init_net") + offset_of("net", "nf.hooks");
  return matrix + (nfproto(family) * kNfMaxHooks + hook) * element;
}

void SyntheticLinux::add_netfilter_hook(const std::string& family, unsigned hook, uint64_t handler, int priority) {
  if (!hooks_) throw std::logic_error("SyntheticLinux: built without hooks");
  const NetfilterLayoutKind nf = options_.netfilter_layout;
  const uint64_t slot = netfilter_slot(family, hook);
  uint64_t ops = slab_alloc(layout_->record_size("nf_hook_ops"));
  std::vector<uint8_t> zeros(layout_->record_size("nf_hook_ops"));
  put_kernel(ops, zeros.data(), zeros.size());
  put_field(ops, "nf_hook_ops", "hook", handler);
  put_field(ops, "nf_hook_ops", "hooknum", hook);
  put_field(ops, "nf_hook_ops", "priority", static_cast<uint32_t>(priority));
  if (nf == NetfilterLayoutKind::kOpsLists || nf == NetfilterLayoutKind::kGlobalLists) {
    list_add_tail(ops + offset_of("nf_hook_ops", "list"), slot);
    return;
  }
  if (nf == NetfilterLayoutKind::kEntryChains) {
    // A new entry at the chain's end, with a copy of the ops.
    const uint64_t entry = slab_alloc(layout_->record_size("nf_hook_entry"));
    std::vector<uint8_t> copy(layout_->record_size("nf_hook_ops"));
    space_->read(kernel_physical(ops), copy.data(), copy.size());
    put_kernel(entry + offset_of("nf_hook_entry", "ops"), copy.data(), copy.size());
    put_field(entry, "nf_hook_entry", "next", 0);
    put_field(entry, "nf_hook_entry", "orig_ops", ops);
    uint64_t link = slot;
    for (uint64_t next; (next = space_->read_value<uint64_t>(kernel_physical(link))) != 0;)
      link = next + offset_of("nf_hook_entry", "next");
    put_kernel_u64(link, entry);
    return;
  }
  const uint64_t old = space_->read_value<uint64_t>(kernel_physical(slot));
  const uint64_t entry_size = layout_->record_size("nf_hook_entry");
  const uint64_t hooks_offset = offset_of("nf_hook_entries", "hooks");
  // The hooks there now: (handler, ops) pairs, read back from the entries.
  std::vector<std::pair<uint64_t, uint64_t>> entries;
  if (old) {
    uint64_t count = space_->read_value<uint16_t>(kernel_physical(old));
    for (uint64_t i = 0; i < count; ++i) {
      uint64_t e = old + hooks_offset + i * entry_size;
      uint64_t ops_slot = old + hooks_offset + count * entry_size + 8 * i;
      entries.emplace_back(space_->read_value<uint64_t>(kernel_physical(e + offset_of("nf_hook_entry", "hook"))),
                           space_->read_value<uint64_t>(kernel_physical(ops_slot)));
    }
  }
  entries.emplace_back(handler, ops);
  // A new blob, as nf_hook_entries_grow makes one: entries, then their ops.
  const uint64_t count = entries.size();
  const uint64_t blob = slab_alloc(hooks_offset + count * (entry_size + 8));
  put_field(blob, "nf_hook_entries", "num_hook_entries", count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t e = blob + hooks_offset + i * entry_size;
    put_field(e, "nf_hook_entry", "hook", entries[i].first);
    put_field(e, "nf_hook_entry", "priv", 0);
    put_kernel_u64(blob + hooks_offset + count * entry_size + 8 * i, entries[i].second);
  }
  put_kernel_u64(slot, blob);
}

void SyntheticLinux::hook_tty_operation(const std::string& operation, uint64_t target) {
  put_field(kLinkText + options_.virtual_shift + kSerialOps, "tty_operations", operation, target);
}

void SyntheticLinux::hook_ldisc_operation(const std::string& operation, uint64_t target) {
  if (!hooks_) throw std::logic_error("SyntheticLinux: built without hooks");
  put_field(hooks_->ntty_ops, "tty_ldisc_ops", operation, target);
}

void SyntheticLinux::share_cred(int pid, int with_pid) {
  uint64_t cred = space_->read_value<uint64_t>(kernel_physical(task_address(with_pid) + offset_of("task_struct", "cred")));
  set_task_pointer(pid, "cred", cred);
  set_task_pointer(pid, "real_cred", cred);
}

void SyntheticLinux::ftrace_cycle() {
  if (!hooks_ || hooks_->ftrace_ops.empty()) throw std::logic_error("SyntheticLinux: no ftrace ops");
  put_field(hooks_->ftrace_ops.back(), "ftrace_ops", "next", hooks_->ftrace_ops.front());
}

void SyntheticLinux::keyboard_notifier_cycle() {
  if (!hooks_ || hooks_->keyboard_blocks.empty()) throw std::logic_error("SyntheticLinux: no keyboard notifiers");
  put_field(hooks_->keyboard_blocks.back(), "notifier_block", "next", hooks_->keyboard_blocks.front());
}

void SyntheticLinux::unmap_syscall_table() {
  profile_["symbols"]["sys_call_table"]["address"] = kLinkText + kUnmappedTable;
}

void SyntheticLinux::wild_netfilter_hooks(const std::string& family, unsigned hook) {
  // The pointer, or a list head's next.
  const NetfilterLayoutKind nf = options_.netfilter_layout;
  if (nf == NetfilterLayoutKind::kOpsLists || nf == NetfilterLayoutKind::kGlobalLists)
    put_field(netfilter_slot(family, hook), "list_head", "next", kUnmappedKernelAddress);
  else
    put_kernel_u64(netfilter_slot(family, hook), kUnmappedKernelAddress);
}

void SyntheticLinux::wild_tty_driver_ops() {
  if (!hooks_) throw std::logic_error("SyntheticLinux: built without hooks");
  put_field(hooks_->serial_driver, "tty_driver", "ops", kUnmappedKernelAddress);
}

}  // namespace memscope::test
