// linux.lsmod: the loaded kernel modules on the `modules` list, with what
// /proc/modules shows for each.
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/linux/modules.h"
#include "core/plugin/cells.h"

namespace memscope::linux_kernel {
namespace {

std::vector<Column> lsmod_columns() {
  return {
      {"offset", ColumnType::Address, "address of the struct module"},
      {"name", ColumnType::String, "module name"},
      {"size", ColumnType::UInt, "bytes of all its memory regions, as /proc/modules counts them"},
      {"refcount", ColumnType::Int, "reference count, as /proc/modules shows it"},
      {"state", ColumnType::String, "Live, Loading, Unloading or Unformed"},
      {"base", ColumnType::Address, "start of the module's core (text) memory"},
  };
}

void run_lsmod(Session& session, const PluginArgs&, Table& table) {
  KernelView view = kernel_view(session);
  ModuleReader reader(view);
  for (uint64_t address : reader.modules(table.warnings)) {
    Module m = reader.read(address, table.warnings);
    Value base = m.base ? address_cell(*m.base) : Value{};
    table.rows.push_back(
        Row{{address_cell(m.address), cell(m.name), cell(m.size), cell(m.refcount), cell(m.state), base}, {}});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), Plugin{
    .info =
        {
            .name = "linux.lsmod",
            .description = "loaded kernel modules (the modules list)",
            .options = {},
            .required_types = {"module", "list_head"},
            .required_symbols = {"modules"},
            .columns = lsmod_columns(),
        },
    .run = run_lsmod,
});

}  // namespace memscope::linux_kernel
