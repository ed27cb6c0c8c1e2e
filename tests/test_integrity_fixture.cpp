// The kernel integrity checks on the real fixture image, in each format
// (raw, LiME, ELF core), with the fixture's ISF and with a profile
// generated from its BTF: the guest's kernel is clean, so every check runs
// without a warning and flags nothing; then hooks planted in the session's
// overlay (the evidence is never written) are found and named.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>

#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/hex.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/table_cells.h"

using namespace memscope;
using test::cell;
using test::all_warnings;
using nlohmann::json;

namespace {

Table run(Session& session, const std::string& name) {
  PluginResult result = run_plugin(*find_plugin(name), session, {});
  INFO(result.error);
  REQUIRE(result.ok);
  return std::move(result.table);
}

uint64_t hex_value(const json& text) { return std::stoull(text.get<std::string>(), nullptr, 16); }

// truth's modules, listed or hidden.
std::vector<json> truth_modules(bool hidden) {
  std::vector<json> out;
  for (const json& m : test::truth().at("modules"))
    if (m.at("hidden").get<bool>() == hidden) out.push_back(m);
  return out;
}

// Every row clean: nothing hooked, and each handler named by a symbol.
void check_clean(const Table& table, const std::string& handler_column) {
  for (const Row& row : table.rows) {
    INFO("row for " << hex_address(cell<Address>(table, row, handler_column).value_or(Address{}).value));
    CHECK(cell<bool>(table, row, "hooked") == false);
    CHECK(cell<std::string>(table, row, "symbol"));
  }
}

Session open_fixture(const std::string& format, const std::string& profile) {
  test::use_build_tree_cache();
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = test::fixture_profile(profile);
  return Session(options);
}

}  // namespace

TEST_CASE("fixture: the integrity checks find a clean kernel clean / each format and profile") {
  const std::string format = GENERATE(as<std::string>{}, "raw", "lime", "elf");
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  INFO("image." << format << " with the " << profile << " profile");
  test::use_build_tree_cache();
  SessionOptions options;
  options.image = test::fixture("image." + format);
  options.profile = test::fixture_profile(profile);
  Session session(options);

  SECTION("check_syscall") {
    Table table = run(session, "linux.check_syscall");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    std::vector<const Row*> x64;
    for (const Row& row : table.rows)
      if (cell<std::string>(table, row, "table") == "sys_call_table") x64.push_back(&row);
    REQUIRE(x64.size() > 60);
    for (size_t i = 0; i < x64.size(); ++i) {
      CHECK(cell<uint64_t>(table, *x64[i], "index") == i);
      auto symbol = cell<std::string>(table, *x64[i], "symbol");
      INFO("entry " << i);
      REQUIRE(symbol);
      // Every entry is the start of a function: no "+offset".
      CHECK(symbol->find('+') == std::string::npos);
      CHECK_FALSE(cell<std::string>(table, *x64[i], "module"));
    }
    check_clean(table, "handler");
    // The x86_64 system call ABI: 0 is read, 59 is execve.
    CHECK(cell<std::string>(table, *x64[0], "symbol") == "__x64_sys_read");
    CHECK(cell<std::string>(table, *x64[59], "symbol") == "__x64_sys_execve");
  }
  SECTION("check_idt") {
    Table table = run(session, "linux.check_idt");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.size() >= 32);  // at least the architecture's exceptions
    check_clean(table, "handler");
    CHECK(cell<uint64_t>(table, table.rows[0], "index") == 0);
    CHECK(cell<std::string>(table, table.rows[0], "symbol").value_or("").find("divide_error") != std::string::npos);
  }
  SECTION("check_creds") {
    Table table = run(session, "linux.check_creds");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    CHECK(table.rows.empty());
  }
  SECTION("ftrace netfilter and keyboard_notifiers") {
    for (const auto& [plugin, address] : {std::pair{"linux.ftrace", "ops"}, std::pair{"linux.netfilter", "handler"},
                                          std::pair{"linux.keyboard_notifiers", "offset"}}) {
      INFO(plugin);
      Table table = run(session, plugin);
      INFO(all_warnings(table));
      CHECK(table.warnings.empty());
      check_clean(table, address);
    }
  }
  SECTION("tty_check") {
    Table table = run(session, "linux.tty_check");
    INFO(all_warnings(table));
    CHECK(table.warnings.empty());
    check_clean(table, "handler");
    // The guest's console is a serial port: an open tty whose line
    // discipline is checked.
    const std::string cmdline = test::truth().at("kernel_cmdline").get<std::string>();
    const size_t console = cmdline.find("console=");
    REQUIRE(console != std::string::npos);
    const std::string tty = cmdline.substr(console + 8, cmdline.find_first_of(", ", console) - console - 8);
    CHECK(std::any_of(table.rows.begin(), table.rows.end(), [&](const Row& row) {
      return cell<std::string>(table, row, "tty") == tty &&
             cell<std::string>(table, row, "structure") == "tty_ldisc_ops";
    }));
  }
}

TEST_CASE("fixture: module code is named by the module's own symbols") {
  Session session = open_fixture("elf", "isf");
  linux_kernel::KernelView view = linux_kernel::kernel_view(session);
  Warnings warnings;
  linux_kernel::KernelText text(view, warnings);
  linux_kernel::Symbolizer symbols(text, warnings);
  for (const json& m : truth_modules(false)) {
    const std::string name = m.at("name");
    INFO(name);
    linux_kernel::SymbolizedAddress where = symbols.resolve(hex_value(m.at("address")));
    CHECK(where.module == name);
    CHECK(where.location == linux_kernel::CodeLocation::kModuleText);
    CHECK(where.symbol);
  }
  // The hidden module is off the list but still in /sys/module: named,
  // and not counted as listed.
  for (const json& m : truth_modules(true)) {
    const std::string name = m.at("name");
    INFO(name);
    const uint64_t address = hex_value(m.at("address"));
    CHECK(symbols.resolve(address).module == name);
    CHECK(text.unaccounted(address));
  }
  for (const std::string& line : warnings.lines()) UNSCOPED_INFO(line);
  CHECK(warnings.empty());
}

TEST_CASE("fixture: a system call and an IDT gate hooked in the overlay are flagged with the module's name") {
  const std::string profile = GENERATE(as<std::string>{}, "isf", "btf");
  Session session = open_fixture("raw", profile);
  const json module = truth_modules(false).at(0);
  const std::string name = module.at("name");
  const uint64_t target = hex_value(module.at("address")) + 0x10;
  const json hidden_module = truth_modules(true).at(0);
  const uint64_t hidden_target = hex_value(hidden_module.at("address")) + 0x10;
  X86_64Paging& kernel = session.kernel_space();

  SECTION("check_syscall") {
    const uint64_t table = session.symbol_address("sys_call_table");
    REQUIRE(kernel.write(table + 8 * 2, &target, 8).ok());
    REQUIRE(kernel.write(table + 8 * 3, &hidden_target, 8).ok());
    Table result = run(session, "linux.check_syscall");
    INFO(all_warnings(result));
    size_t hooked = 0;
    for (const Row& row : result.rows) {
      if (cell<bool>(result, row, "hooked") != true) continue;
      ++hooked;
      const uint64_t index = cell<uint64_t>(result, row, "index").value();
      if (index == 2) {
        CHECK(cell<std::string>(result, row, "module") == name);
        CHECK(cell<std::string>(result, row, "symbol"));
      } else {
        // The hidden module, off the list, is named through /sys/module.
        CHECK(index == 3);
        CHECK(cell<std::string>(result, row, "module") == hidden_module.at("name").get<std::string>());
      }
    }
    CHECK(hooked == 2);
  }
  SECTION("check_idt") {
    // The gate's handler split in three, as the architecture lays it out.
    const uint64_t gate = session.symbol_address("idt_table") + 16 * 3;
    uint8_t bytes[16];
    REQUIRE(kernel.read(gate, bytes, 16).ok());
    const uint16_t low = target & 0xffff, middle = (target >> 16) & 0xffff;
    const uint32_t high = static_cast<uint32_t>(target >> 32);
    std::memcpy(bytes, &low, 2);
    std::memcpy(bytes + 6, &middle, 2);
    std::memcpy(bytes + 8, &high, 4);
    REQUIRE(kernel.write(gate, bytes, 16).ok());
    Table result = run(session, "linux.check_idt");
    size_t hooked = 0;
    for (const Row& row : result.rows) {
      if (cell<bool>(result, row, "hooked") != true) continue;
      ++hooked;
      CHECK(cell<uint64_t>(result, row, "index") == 3);
      CHECK(cell<Address>(result, row, "handler") == Address{target});
      CHECK(cell<std::string>(result, row, "module") == name);
    }
    CHECK(hooked == 1);
  }
}
