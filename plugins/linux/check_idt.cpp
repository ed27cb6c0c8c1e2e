// linux.check_idt: the handlers of the interrupt descriptor table, and
// whether they lie outside the kernel's text (a hooked interrupt or
// exception vector).
#include "core/linux/idt.h"
#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct IdtRow {
  uint64_t index = 0;
  Address handler{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  bool hooked = false;
};

const RowSchema<IdtRow> kIdtColumns{
    {"index", &IdtRow::index, "interrupt vector (0-255)"},
    {"handler", &IdtRow::handler, "the handler the gate points to"},
    {"symbol", &IdtRow::symbol, "the symbol holding the handler (name+offset)"},
    {"module", &IdtRow::module, "the module whose memory holds the handler"},
    {"hooked", &IdtRow::hooked, "the handler lies outside the kernel's text"},
};

void run_check_idt(Session& session, const PluginArgs&, Rows<IdtRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  for (const IdtGate& gate : read_idt(view, rows.warnings())) {
    // The CPU ignores a gate whose present bit is clear.
    if (!gate.present) continue;
    SymbolizedAddress where = symbols.resolve(gate.handler);
    rows.add({.index = gate.vector,
              .handler = Address{gate.handler},
              .symbol = where.symbol,
              .module = where.module,
              .hooked = text.hooked(gate.handler)});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.check_idt",
        .description = "interrupt descriptor table handlers that point outside the kernel's text",
        .options = {},
        .required_types = {"module", "list_head"},
        .required_symbols = {"idt_table", "_etext"},
    },
    kIdtColumns, run_check_idt));

}  // namespace memscope::linux_kernel
