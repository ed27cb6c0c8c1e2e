// linux.tty_check: the function pointers of the tty layer (each driver's
// tty_operations, open ttys' own operations and line disciplines), and
// whether one points outside the code of the kernel and of the module that
// owns the structure: how tty keyloggers and backdoors hook.
#include <set>

#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/linux/tty.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct TtyRow {
  std::optional<std::string> driver{};
  std::optional<std::string> tty{};
  std::string structure{};
  std::optional<std::string> ldisc{};
  Address table{};
  std::string operation{};
  Address handler{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  bool hooked = false;
};

const RowSchema<TtyRow> kTtyColumns{
    {"driver", &TtyRow::driver, "the tty driver (its driver_name, as /proc/tty/drivers shows it); null for a registered line discipline"},
    {"tty", &TtyRow::tty, "the open tty the structure was reached through; null for a driver's own operations"},
    {"structure", &TtyRow::structure, "tty_operations or tty_ldisc_ops"},
    {"ldisc", &TtyRow::ldisc, "for tty_ldisc_ops: the line discipline's name (n_tty, ...)"},
    {"table", &TtyRow::table, "address of that operations structure"},
    {"operation", &TtyRow::operation, "the function pointer: write, ioctl, receive_buf, ..."},
    {"handler", &TtyRow::handler, "the function it points to"},
    {"symbol", &TtyRow::symbol, "the symbol holding the handler (name+offset)"},
    {"module", &TtyRow::module, "the module whose memory holds the handler"},
    {"hooked", &TtyRow::hooked, "the handler lies outside the text of the kernel and of the structure's owner module"},
};

void run_tty_check(Session& session, const PluginArgs&, Rows<TtyRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  auto operations = tty_operations(view, rows.warnings());
  // An owner not on the modules list (a hidden module) is read all the
  // same, so that its code is named and judged against.
  std::set<uint64_t> owners;
  for (const TtyOperation& op : operations)
    if (op.owner) owners.insert(op.owner);
  for (uint64_t owner : owners) text.add_module(owner, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  for (const TtyOperation& op : operations) {
    SymbolizedAddress where = symbols.resolve(op.handler);
    rows.add({.driver = op.driver,
              .tty = op.tty,
              .structure = op.structure,
              .ldisc = op.ldisc,
              .table = Address{op.table},
              .operation = op.operation,
              .handler = Address{op.handler},
              .symbol = where.symbol,
              .module = where.module,
              .hooked = text.hooked(op.handler, op.owner)});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.tty_check",
        .description = "tty driver and line discipline operations pointing outside the kernel's or their module's code",
        .options = {},
        .required_types = {"tty_driver", "tty_operations", "tty_struct", "module", "list_head"},
        .required_symbols = {"tty_drivers", "_etext"},
    },
    kTtyColumns, run_tty_check));

}  // namespace memscope::linux_kernel
