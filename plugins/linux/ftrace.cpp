// linux.ftrace: the callbacks registered with ftrace (ftrace_ops_list),
// the functions they are attached to, and the module that owns each
// callback. Rootkits of the last years hook kernel functions this way.
#include "core/linux/ftrace.h"
#include "core/linux/kernel_text.h"
#include "core/linux/symbolize.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct FtraceRow {
  Address ops{};
  std::optional<Address> func{};
  std::optional<std::string> symbol{};
  std::optional<std::string> module{};
  std::optional<bool> hooked{};
  std::optional<bool> all_functions{};
  std::vector<std::string> targets{};
};

const RowSchema<FtraceRow> kFtraceColumns{
    {"ops", &FtraceRow::ops, "the struct ftrace_ops"},
    {"func", &FtraceRow::func, "the callback traced functions call"},
    {"symbol", &FtraceRow::symbol, "the symbol holding the callback (name+offset)"},
    {"module", &FtraceRow::module, "the module whose memory holds the callback"},
    {"hooked", &FtraceRow::hooked, "the callback lies outside the text of the kernel and of every listed module"},
    {"all_functions", &FtraceRow::all_functions, "no filter: every traceable function calls it"},
    {"targets", &FtraceRow::targets, "the functions it is attached to (its filter), symbolized"},
};

void run_ftrace(Session& session, const PluginArgs&, Rows<FtraceRow>& rows) {
  KernelView view = kernel_view(session);
  KernelText text(view, rows.warnings());
  Symbolizer symbols(text, rows.warnings());
  for (const FtraceOps& ops : ftrace_ops_list(view, rows.warnings())) {
    FtraceRow row{.ops = Address{ops.address}};
    if (ops.func) {
      SymbolizedAddress where = symbols.resolve(*ops.func);
      row.func = Address{*ops.func};
      row.symbol = where.symbol;
      row.module = where.module;
      row.hooked = text.unaccounted(*ops.func);
    }
    if (ops.filter_read) row.all_functions = ops.filter.empty();
    for (uint64_t ip : ops.filter) row.targets.push_back(symbols.symbolize(ip));
    rows.add(std::move(row));
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.ftrace",
        .description = "ftrace callbacks (ftrace_ops_list) with the functions they hook and their module",
        .options = {},
        .required_types = {"ftrace_ops", "module", "list_head"},
        .required_symbols = {"ftrace_ops_list", "ftrace_list_end", "_etext"},
    },
    kFtraceColumns, run_ftrace));

}  // namespace memscope::linux_kernel
