// linux.check_syscall: every entry of the system call tables, with the
// function it points to, and whether that lies outside the kernel's text
// (a hooked system call).
#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/linux/syscalls.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct SyscallRow {
  std::string table{};
  uint64_t index = 0;
  std::optional<Address> handler{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  std::optional<bool> hooked{};
};

const RowSchema<SyscallRow> kSyscallColumns{
    {"table", &SyscallRow::table, "the table: sys_call_table, ia32_sys_call_table or x32_sys_call_table"},
    {"index", &SyscallRow::index, "system call number (entry of the table)"},
    {"handler", &SyscallRow::handler, "the function the entry points to"},
    {"symbol", &SyscallRow::symbol, "the symbol holding the handler (name+offset)"},
    {"module", &SyscallRow::module, "the module whose memory holds the handler"},
    {"hooked", &SyscallRow::hooked, "the handler lies outside the kernel's text"},
};

void run_check_syscall(Session& session, const PluginArgs&, Rows<SyscallRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  for (const SyscallTable& table : syscall_tables(view, rows.warnings())) {
    auto entries = read_syscall_table(view, table, rows.warnings());
    for (uint64_t index = 0; index < entries.size(); ++index) {
      SyscallRow row{.table = table.name, .index = index};
      if (const auto& handler = entries[index]) {
        SymbolizedAddress where = symbols.resolve(*handler);
        row.handler = Address{*handler};
        row.symbol = where.symbol;
        row.module = where.module;
        row.hooked = text.hooked(*handler);
      }
      rows.add(std::move(row));
    }
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.check_syscall",
        .description = "system call table entries that point outside the kernel's text",
        .options = {},
        .required_types = {"module", "list_head"},
        .required_symbols = {"sys_call_table", "_etext"},
    },
    kSyscallColumns, run_check_syscall));

}  // namespace memscope::linux_kernel
