// The kernel integrity checks (check_syscall, check_idt, check_creds,
// ftrace, netfilter, tty_check, keyboard_notifiers) on synthetic kernels
// (support/synthetic_hooks.cpp): clean, with a rootkit's hook planted in
// each hook point, in each module memory layout, and with damaged
// structures.
#include <algorithm>
#include <catch2/catch.hpp>
#include <map>
#include <set>

#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/hex.h"
#include "support/synthetic_linux.h"
#include "support/table_cells.h"
#include "support/temp_file.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using test::ModuleLayoutKind;
using test::NetfilterLayoutKind;
using test::SyntheticLinux;
using test::SyntheticOptions;

namespace {

SyntheticOptions hook_options(ModuleLayoutKind layout = ModuleLayoutKind::kMemArray) {
  SyntheticOptions options;
  options.hooks = true;
  options.module_layout = layout;
  return options;
}

class SyntheticSession {
 public:
  explicit SyntheticSession(SyntheticLinux& kernel) : dir_("integrity") {
    std::string profile = dir_.file("profile.json");
    kernel.write_profile(profile);
    std::string image = dir_.file("image.lime");
    kernel.write_lime(image);
    SessionOptions options;
    options.image = image;
    options.profile = profile;
    options.use_profile_cache = false;
    session_ = std::make_unique<Session>(options);
  }

  Session& session() { return *session_; }

  Table run(const std::string& name) {
    const Plugin* plugin = find_plugin(name);
    REQUIRE(plugin != nullptr);
    PluginResult result = run_plugin(*plugin, *session_, {});
    INFO(result.error);
    REQUIRE(result.ok);
    return std::move(result.table);
  }

  PluginResult attempt(const std::string& name) { return run_plugin(*find_plugin(name), *session_, {}); }

 private:
  test::TempDir dir_;
  std::unique_ptr<Session> session_;
};

Table run(SyntheticLinux& kernel, const std::string& plugin) {
  SyntheticSession session(kernel);
  return session.run(plugin);
}

bool any_warning_contains(const Table& table, const std::string& text) {
  return std::any_of(table.warnings.begin(), table.warnings.end(),
                     [&](const std::string& w) { return w.find(text) != std::string::npos; });
}

size_t hooked_rows(const Table& table) {
  return std::count_if(table.rows.begin(), table.rows.end(),
                       [&](const Row& row) { return cell<bool>(table, row, "hooked") == true; });
}

std::vector<const Row*> rows_where(const Table& table, const std::string& key, const std::string& value) {
  std::vector<const Row*> out;
  for (const Row& row : table.rows)
    if (cell<std::string>(table, row, key) == value) out.push_back(&row);
  return out;
}

// The one row whose address column `key` is `address`.
const Row& row_with_address(const Table& table, const std::string& key, uint64_t address) {
  for (const Row& row : table.rows)
    if (cell<Address>(table, row, key) == Address{address}) return row;
  FAIL("no row with " << key << " " << hex_address(address));
  throw std::logic_error("unreachable");
}

const char* layout_name(ModuleLayoutKind layout) {
  switch (layout) {
    case ModuleLayoutKind::kMemArray: return "mem[]";
    case ModuleLayoutKind::kCoreLayout: return "core_layout";
    case ModuleLayoutKind::kModuleCore: return "module_core";
  }
  return "?";
}

}  // namespace

TEST_CASE("check_syscall lists every entry of each table with its symbol on a clean kernel") {
  SyntheticLinux kernel(hook_options());
  Table table = run(kernel, "linux.check_syscall");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  auto x64 = rows_where(table, "table", "sys_call_table");
  auto ia32 = rows_where(table, "table", "ia32_sys_call_table");
  // The x86_64 length comes from trace_array (NR_syscalls), ia32's from its type.
  CHECK(x64.size() == SyntheticLinux::kHookSyscalls);
  CHECK(ia32.size() == SyntheticLinux::kHookIa32Syscalls);
  CHECK(table.rows.size() == x64.size() + ia32.size());
  for (const Row& row : table.rows) {
    auto symbol = cell<std::string>(table, row, "symbol");
    REQUIRE(symbol);
    // Each handler is exactly the function its symbol names.
    CHECK(cell<Address>(table, row, "handler") == Address{kernel.symbol_address(*symbol)});
    CHECK_FALSE(cell<std::string>(table, row, "module"));
    CHECK(cell<bool>(table, row, "hooked") == false);
  }
  CHECK(cell<std::string>(table, *x64[0], "symbol") == "__x64_sys_read");
  CHECK(cell<uint64_t>(table, *x64.back(), "index") == SyntheticLinux::kHookSyscalls - 1);
}

TEST_CASE("check_syscall flags an entry pointed into a module with that module's name") {
  const ModuleLayoutKind layout =
      GENERATE(ModuleLayoutKind::kMemArray, ModuleLayoutKind::kCoreLayout, ModuleLayoutKind::kModuleCore);
  INFO("module layout " << layout_name(layout));
  SyntheticLinux kernel(hook_options(layout));
  const uint64_t target = kernel.module_code("ext4", 0x240);
  kernel.hook_syscall(3, target);
  Table table = run(kernel, "linux.check_syscall");
  INFO(all_warnings(table));
  CHECK(table.warnings.empty());
  CHECK(hooked_rows(table) == 1);
  for (const Row* row : rows_where(table, "table", "sys_call_table")) {
    if (cell<uint64_t>(table, *row, "index") != 3) continue;
    CHECK(cell<Address>(table, *row, "handler") == Address{target});
    CHECK(cell<std::string>(table, *row, "module") == "ext4");
    CHECK(cell<bool>(table, *row, "hooked") == true);
    // The synthetic modules keep no symbol table: nothing to name it by.
    CHECK_FALSE(cell<std::string>(table, *row, "symbol"));
  }
}

TEST_CASE("check_syscall names a hidden module by /sys/module and flags memory no module holds") {
  SyntheticLinux kernel(hook_options());
  // The hidden module is not on the modules list, but /sys/module and
  // mod_tree still hold it: named, and flagged all the same.
  const uint64_t hidden = kernel.module_code("rootkit");
  kernel.hook_syscall(0, hidden);
  kernel.hook_syscall(1, SyntheticLinux::kUnmappedKernelAddress);
  Table table = run(kernel, "linux.check_syscall");
  CHECK(hooked_rows(table) == 2);
  const Row& row = row_with_address(table, "handler", hidden);
  CHECK(cell<bool>(table, row, "hooked") == true);
  CHECK(cell<std::string>(table, row, "module") == "rootkit");
  const Row& wild = row_with_address(table, "handler", SyntheticLinux::kUnmappedKernelAddress);
  CHECK(cell<bool>(table, wild, "hooked") == true);
  CHECK_FALSE(cell<std::string>(table, wild, "module"));
  CHECK_FALSE(cell<std::string>(table, wild, "symbol"));
}

TEST_CASE("check_idt lists the present gates clean and flags a gate pointed into a module") {
  SyntheticLinux kernel(hook_options());
  SECTION("clean") {
    Table table = run(kernel, "linux.check_idt");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.size() == 255);  // every vector but the one not present
    std::set<uint64_t> vectors;
    for (const Row& row : table.rows) {
      uint64_t vector = cell<uint64_t>(table, row, "index").value();
      vectors.insert(vector);
      auto symbol = cell<std::string>(table, row, "symbol");
      REQUIRE(symbol);
      if (vector < 32)
        CHECK(*symbol == "asm_exc_" + std::to_string(vector));
      else if (vector == 32)
        CHECK(*symbol == "irq_entries_start");
      else
        CHECK(*symbol == "irq_entries_start+" + hex(8 * (vector - 32)));
      CHECK(cell<bool>(table, row, "hooked") == false);
    }
    CHECK(vectors.count(SyntheticLinux::kAbsentIdtVector) == 0);
  }
  SECTION("hooked") {
    const uint64_t target = kernel.module_code("e1000", 0x80);
    kernel.hook_idt(0x80, target);
    Table table = run(kernel, "linux.check_idt");
    CHECK(hooked_rows(table) == 1);
    const Row& row = row_with_address(table, "handler", target);
    CHECK(cell<uint64_t>(table, row, "index") == 0x80);
    CHECK(cell<std::string>(table, row, "module") == "e1000");
    CHECK(cell<bool>(table, row, "hooked") == true);
  }
}

TEST_CASE("ftrace lists the ops with their filter and names the module of a hooking callback") {
  SyntheticLinux kernel(hook_options());
  SECTION("clean") {
    Table table = run(kernel, "linux.ftrace");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 1);
    const Row& row = table.rows[0];
    CHECK(cell<std::string>(table, row, "symbol") == "ftrace_synthetic_callback");
    CHECK(cell<bool>(table, row, "hooked") == false);
    CHECK(cell<bool>(table, row, "all_functions") == false);
    auto targets = cell<std::vector<std::string>>(table, row, "targets").value();
    CHECK(std::set<std::string>(targets.begin(), targets.end()) ==
          std::set<std::string>{"__x64_sys_read", "__x64_sys_write"});
  }
  SECTION("a callback in a listed module, and one in no module") {
    const uint64_t in_module = kernel.module_code("ext4");
    const uint64_t nowhere = kernel.module_code("rootkit");
    const uint64_t module_ops = kernel.add_ftrace_ops(in_module, {kernel.symbol_address("__x64_sys_open")});
    const uint64_t rootkit_ops = kernel.add_ftrace_ops(nowhere, {});
    Table table = run(kernel, "linux.ftrace");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.size() == 3);
    const Row& module_row = row_with_address(table, "ops", module_ops);
    CHECK(cell<std::string>(table, module_row, "module") == "ext4");
    CHECK(cell<bool>(table, module_row, "hooked") == false);  // a listed module's own code
    CHECK(cell<std::vector<std::string>>(table, module_row, "targets") == std::vector<std::string>{"__x64_sys_open"});
    const Row& rootkit_row = row_with_address(table, "ops", rootkit_ops);
    CHECK(cell<bool>(table, rootkit_row, "hooked") == true);
    CHECK(cell<bool>(table, rootkit_row, "all_functions") == true);
    CHECK(hooked_rows(table) == 1);
  }
}

const char* netfilter_layout_name(NetfilterLayoutKind layout) {
  switch (layout) {
    case NetfilterLayoutKind::kFamilyArrays: return "hooks_<family>[] of nf_hook_entries (4.16+)";
    case NetfilterLayoutKind::kEntriesMatrix: return "hooks[family][hook] of nf_hook_entries (4.14-4.15)";
    case NetfilterLayoutKind::kEntryChains: return "hooks[family][hook] of nf_hook_entry chains (4.10-4.13)";
    case NetfilterLayoutKind::kOpsLists: return "hooks[family][hook] of nf_hook_ops lists (4.3-4.9)";
    case NetfilterLayoutKind::kGlobalLists: return "the global nf_hooks lists (before 4.3)";
  }
  return "?";
}

TEST_CASE("netfilter lists each namespace's hooks per family and hook point / each kernel's layout") {
  const auto layout = GENERATE(NetfilterLayoutKind::kFamilyArrays, NetfilterLayoutKind::kEntriesMatrix,
                               NetfilterLayoutKind::kEntryChains, NetfilterLayoutKind::kOpsLists,
                               NetfilterLayoutKind::kGlobalLists);
  INFO(netfilter_layout_name(layout));
  SyntheticOptions options = hook_options();
  options.netfilter_layout = layout;
  SyntheticLinux kernel(options);
  // Hooks were per namespace from 4.3 on; before, one global set.
  const bool namespaced = layout != NetfilterLayoutKind::kGlobalLists;
  SECTION("clean") {
    Table table = run(kernel, "linux.netfilter");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 3);
    const Row& v4 = *rows_where(table, "family", "ipv4").at(0);
    CHECK(cell<std::string>(table, v4, "hook") == "POST_ROUTING");
    CHECK(cell<int64_t>(table, v4, "priority") == -225);
    CHECK(cell<std::string>(table, v4, "symbol") == "nf_ipv4_postroute");
    if (namespaced)
      CHECK(cell<uint64_t>(table, v4, "netns") == 4026531840u);
    else
      CHECK_FALSE(cell<uint64_t>(table, v4, "netns"));
    auto v6 = rows_where(table, "family", "ipv6");
    REQUIRE(v6.size() == 2);
    CHECK(cell<uint64_t>(table, *v6[0], "position") == 0);
    CHECK(cell<std::string>(table, *v6[0], "symbol") == "nf_ipv6_local_in");
    CHECK(cell<int64_t>(table, *v6[0], "priority") == 0);
    CHECK(cell<uint64_t>(table, *v6[1], "position") == 1);
    CHECK(cell<int64_t>(table, *v6[1], "priority") == 100);
    CHECK(cell<std::string>(table, *v6[1], "hook") == "LOCAL_IN");
    CHECK(hooked_rows(table) == 0);
  }
  SECTION("a hook in a module and one in no module") {
    const uint64_t in_module = kernel.module_code("e1000", 0x300);
    const uint64_t nowhere = kernel.module_code("rootkit", 0x300);
    kernel.add_netfilter_hook("ipv4", 0, in_module, -300);
    kernel.add_netfilter_hook("arp", 1, nowhere, 0);
    Table table = run(kernel, "linux.netfilter");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.size() == 5);
    const Row& module_row = row_with_address(table, "handler", in_module);
    CHECK(cell<std::string>(table, module_row, "module") == "e1000");
    CHECK(cell<std::string>(table, module_row, "hook") == "PRE_ROUTING");
    CHECK(cell<int64_t>(table, module_row, "priority") == -300);
    CHECK(cell<bool>(table, module_row, "hooked") == false);
    const Row& rootkit_row = row_with_address(table, "handler", nowhere);
    CHECK(cell<std::string>(table, rootkit_row, "family") == "arp");
    CHECK(cell<std::string>(table, rootkit_row, "hook") == "OUT");
    CHECK(cell<bool>(table, rootkit_row, "hooked") == true);
  }
  SECTION("a wild pointer where one hook point's hooks are") {
    kernel.wild_netfilter_hooks("ipv4", 4);
    Table table = run(kernel, "linux.netfilter");
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, hex_address(SyntheticLinux::kUnmappedKernelAddress)));
    CHECK(rows_where(table, "family", "ipv6").size() == 2);
    // A list is recovered through its prev links; a pointer's hooks are lost.
    const bool lists = layout == NetfilterLayoutKind::kOpsLists || layout == NetfilterLayoutKind::kGlobalLists;
    auto v4 = rows_where(table, "family", "ipv4");
    REQUIRE(v4.size() == (lists ? 1u : 0u));
    if (lists) CHECK(cell<std::string>(table, *v4[0], "symbol") == "nf_ipv4_postroute");
  }
}

TEST_CASE("tty_check judges each operation against the kernel and the structure's owner module") {
  const ModuleLayoutKind layout =
      GENERATE(ModuleLayoutKind::kMemArray, ModuleLayoutKind::kCoreLayout, ModuleLayoutKind::kModuleCore);
  INFO("module layout " << layout_name(layout));
  SyntheticLinux kernel(hook_options(layout));
  SECTION("clean") {
    Table table = run(kernel, "linux.tty_check");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(rows_where(table, "driver", "serial").size() == 5 + 5);  // its ops, and ttyS0's line discipline
    auto ldisc = rows_where(table, "structure", "tty_ldisc_ops");
    REQUIRE(ldisc.size() == 5);
    for (const Row* row : ldisc) {
      CHECK(cell<std::string>(table, *row, "tty") == "ttyS0");
      CHECK(cell<std::string>(table, *row, "ldisc") == "n_tty");
    }
    // A driver whose operations live in the module that owns it is clean.
    auto owned = rows_where(table, "driver", "modtty");
    REQUIRE(owned.size() == 2);
    for (const Row* row : owned) CHECK(cell<std::string>(table, *row, "module") == "e1000");
    CHECK(hooked_rows(table) == 0);
    for (const Row& row : table.rows) CHECK((cell<std::string>(table, row, "symbol") || cell<std::string>(table, row, "module")));
  }
  SECTION("hooked") {
    const uint64_t write = kernel.module_code("ext4", 0x180);
    const uint64_t receive = kernel.module_code("e1000", 0x1c0);
    kernel.hook_tty_operation("write", write);
    kernel.hook_ldisc_operation("receive_buf", receive);
    Table table = run(kernel, "linux.tty_check");
    INFO(all_warnings(table));
    CHECK(hooked_rows(table) == 2);
    const Row& write_row = row_with_address(table, "handler", write);
    CHECK(cell<std::string>(table, write_row, "operation") == "write");
    CHECK(cell<std::string>(table, write_row, "module") == "ext4");
    CHECK(cell<bool>(table, write_row, "hooked") == true);
    const Row& receive_row = row_with_address(table, "handler", receive);
    CHECK(cell<std::string>(table, receive_row, "operation") == "receive_buf");
    // e1000 owns a tty driver, not the n_tty line discipline.
    CHECK(cell<std::string>(table, receive_row, "module") == "e1000");
    CHECK(cell<bool>(table, receive_row, "hooked") == true);
  }
}

TEST_CASE("keyboard_notifiers lists the chain and names the module of a keylogger's callback") {
  SyntheticLinux kernel(hook_options());
  SECTION("clean") {
    Table table = run(kernel, "linux.keyboard_notifiers");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 1);
    CHECK(cell<std::string>(table, table.rows[0], "symbol") == "kbd_synthetic_notify");
    CHECK(cell<bool>(table, table.rows[0], "hooked") == false);
  }
  SECTION("hooked") {
    const uint64_t logger = kernel.module_code("ext4", 0x200);
    const uint64_t hidden = kernel.module_code("rootkit", 0x200);
    const uint64_t logger_block = kernel.add_keyboard_notifier(logger, 5);
    const uint64_t hidden_block = kernel.add_keyboard_notifier(hidden, 10);
    Table table = run(kernel, "linux.keyboard_notifiers");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 3);
    CHECK(cell<Address>(table, table.rows[0], "offset") == Address{hidden_block});  // chain order
    const Row& logger_row = row_with_address(table, "offset", logger_block);
    CHECK(cell<std::string>(table, logger_row, "module") == "ext4");
    CHECK(cell<int64_t>(table, logger_row, "priority") == 5);
    CHECK(cell<bool>(table, logger_row, "hooked") == false);
    CHECK(cell<bool>(table, table.rows[0], "hooked") == true);
  }
}

TEST_CASE("check_creds flags processes sharing one cred and not threads sharing theirs") {
  SyntheticLinux kernel(hook_options());
  SECTION("clean: threads of one process share a cred") {
    CHECK(kernel.process(202).extra_threads.size() == 2);
    Table table = run(kernel, "linux.check_creds");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.empty());
  }
  SECTION("a process given init_task's cred and two sharing another") {
    kernel.share_cred(206, 0);
    kernel.share_cred(205, 201);
    Table table = run(kernel, "linux.check_creds");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    REQUIRE(table.rows.size() == 2);
    std::map<std::vector<std::string>, const Row*> by_pids;
    for (const Row& row : table.rows) by_pids[cell<std::vector<std::string>>(table, row, "pids").value()] = &row;
    REQUIRE(by_pids.count({"0", "206"}));
    const Row& root = *by_pids.at({"0", "206"});
    CHECK(cell<Address>(table, root, "cred") == Address{kernel.symbol_address("init_cred")});
    CHECK(cell<uint64_t>(table, root, "uid") == 0);
    CHECK(cell<uint64_t>(table, root, "processes") == 2);
    CHECK(cell<std::vector<std::string>>(table, root, "comms") == std::vector<std::string>{"swapper/0", "passwd"});
    REQUIRE(by_pids.count({"201", "205"}));
    CHECK(cell<uint64_t>(table, *by_pids.at({"201", "205"}), "uid") == kernel.process(201).uid);
  }
}

TEST_CASE("A cycle in the ftrace list or a notifier chain is bounded with a warning and the rest kept") {
  SyntheticLinux kernel(hook_options());
  SECTION("ftrace") {
    kernel.add_ftrace_ops(kernel.module_code("ext4"), {});
    const uint64_t first = kernel.add_ftrace_ops(kernel.module_code("e1000"), {});
    kernel.ftrace_cycle();
    Table table = run(kernel, "linux.ftrace");
    CHECK(table.rows.size() == 3);
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, "cycle"));
    CHECK(any_warning_contains(table, hex_address(first)));
  }
  SECTION("keyboard notifiers") {
    kernel.add_keyboard_notifier(kernel.module_code("ext4"), 1);
    const uint64_t first = kernel.add_keyboard_notifier(kernel.module_code("e1000"), 2);
    kernel.keyboard_notifier_cycle();
    Table table = run(kernel, "linux.keyboard_notifiers");
    CHECK(table.rows.size() == 3);
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, "keyboard_notifier_list: cycle"));
    CHECK(any_warning_contains(table, hex_address(first)));
  }
}

TEST_CASE("A table or pointer that does not translate gives a warning naming it and the rest intact") {
  SyntheticLinux kernel(hook_options());
  SECTION("sys_call_table") {
    kernel.unmap_syscall_table();
    SyntheticSession session(kernel);
    const uint64_t table_address = session.session().symbol_address("sys_call_table");
    Table table = session.run("linux.check_syscall");
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, "sys_call_table at " + hex_address(table_address)));
    auto x64 = rows_where(table, "table", "sys_call_table");
    CHECK(x64.size() == SyntheticLinux::kHookSyscalls);  // listed, each unreadable
    for (const Row* row : x64) CHECK_FALSE(cell<Address>(table, *row, "handler"));
    auto ia32 = rows_where(table, "table", "ia32_sys_call_table");
    CHECK(ia32.size() == SyntheticLinux::kHookIa32Syscalls);
    for (const Row* row : ia32) CHECK(cell<std::string>(table, *row, "symbol"));
  }
  SECTION("netfilter hook entries") {
    kernel.wild_netfilter_hooks("ipv6", 1);
    Table table = run(kernel, "linux.netfilter");
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, hex_address(SyntheticLinux::kUnmappedKernelAddress)));
    CHECK(rows_where(table, "family", "ipv6").empty());
    CHECK(rows_where(table, "family", "ipv4").size() == 1);
  }
  SECTION("a tty driver's operations") {
    kernel.wild_tty_driver_ops();
    Table table = run(kernel, "linux.tty_check");
    INFO(all_warnings(table));
    CHECK(any_warning_contains(table, "tty_operations " + hex_address(SyntheticLinux::kUnmappedKernelAddress)));
    CHECK(rows_where(table, "structure", "tty_ldisc_ops").size() == 5);
    CHECK(rows_where(table, "driver", "modtty").size() == 2);
  }
}

TEST_CASE("The checks name the kernel object a kernel without hook points lacks") {
  SyntheticLinux kernel;  // no hooks built: no sys_call_table, idt_table, _etext, ...
  SyntheticSession session(kernel);
  for (const auto& [plugin, object] : std::map<std::string, std::string>{{"linux.check_syscall", "sys_call_table"},
                                                                         {"linux.check_idt", "idt_table"},
                                                                         {"linux.ftrace", "ftrace_ops_list"},
                                                                         {"linux.tty_check", "tty_drivers"},
                                                                         {"linux.netfilter", "_etext"},
                                                                         {"linux.keyboard_notifiers",
                                                                          "keyboard_notifier_list"}}) {
    PluginResult result = session.attempt(plugin);
    INFO(plugin << ": " << result.error);
    CHECK_FALSE(result.ok);
    CHECK(result.error.find(object) != std::string::npos);
  }
}

TEST_CASE("Symbolizer names kernel addresses and module memory and bounds the kernel's text") {
  SyntheticLinux kernel(hook_options(ModuleLayoutKind::kCoreLayout));
  SyntheticSession session(kernel);
  linux_kernel::KernelView view = linux_kernel::kernel_view(session.session());
  Warnings warnings;
  linux_kernel::KernelText text(view, warnings);
  linux_kernel::Symbolizer symbols(text, warnings);
  const uint64_t read = kernel.symbol_address("__x64_sys_read");
  CHECK(symbols.symbolize(read + 0x12) == "__x64_sys_read+0x12");
  CHECK(text.locate(read) == linux_kernel::CodeLocation::kKernelText);
  CHECK(text.locate(kernel.symbol_address("init_task")) == linux_kernel::CodeLocation::kKernelImage);
  CHECK(text.locate(kernel.module_code("ext4")) == linux_kernel::CodeLocation::kModuleText);
  // After the text: the module's other memory.
  const auto& ext4 = kernel.modules()[1];
  CHECK(text.locate(kernel.module_base("ext4") + ext4.text_size) == linux_kernel::CodeLocation::kModuleData);
  CHECK(symbols.symbolize(kernel.module_code("ext4")) == hex_address(kernel.module_code("ext4")) + " [ext4]");
  CHECK(text.locate(SyntheticLinux::kUnmappedKernelAddress) == linux_kernel::CodeLocation::kUnknown);
  // The hidden module, found through /sys/module, is named but counted as
  // nobody's code: it is not on the list.
  const linux_kernel::ModuleMemory* hidden = text.module_at(kernel.module_address("rootkit"));
  REQUIRE(hidden);
  CHECK_FALSE(hidden->listed);
  CHECK(text.module_at(kernel.module_address("ext4"))->listed);
  CHECK(symbols.resolve(kernel.module_code("rootkit")).module == "rootkit");
  CHECK(text.unaccounted(kernel.module_code("rootkit")));
  CHECK_FALSE(text.unaccounted(kernel.module_code("ext4")));
  CHECK(text.hooked(kernel.module_code("rootkit")));
  CHECK(warnings.empty());
}
