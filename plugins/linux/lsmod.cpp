// linux.lsmod: the loaded kernel modules on the `modules` list, with what
// /proc/modules shows for each.
#include "core/linux/modules.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct LsmodRow {
  Address offset{};
  std::optional<std::string> name{};
  std::optional<uint64_t> size{};
  std::optional<int64_t> refcount{};
  std::optional<std::string> state{};
  std::optional<Address> base{};
};

const RowSchema<LsmodRow> kLsmodColumns{
    {"offset", &LsmodRow::offset, "address of the struct module"},
    {"name", &LsmodRow::name, "module name"},
    {"size", &LsmodRow::size, "bytes of all its memory regions, as /proc/modules counts them"},
    {"refcount", &LsmodRow::refcount, "reference count, as /proc/modules shows it"},
    {"state", &LsmodRow::state, "Live, Loading, Unloading or Unformed"},
    {"base", &LsmodRow::base, "start of the module's core (text) memory"},
};

void run_lsmod(Session& session, const PluginArgs&, Rows<LsmodRow>& rows) {
  KernelView view = kernel_view(session);
  ModuleReader reader(view);
  for (uint64_t address : reader.modules(rows.warnings())) {
    Module m = reader.read(address, rows.warnings());
    rows.add({.offset = Address{m.address},
              .name = m.name,
              .size = m.size,
              .refcount = m.refcount,
              .state = m.state,
              .base = m.base ? std::optional<Address>(Address{*m.base}) : std::nullopt});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.lsmod",
        .description = "loaded kernel modules (the modules list)",
        .options = {},
        .required_types = {"module", "list_head"},
        .required_symbols = {"modules"},
    },
    kLsmodColumns, run_lsmod));

}  // namespace memscope::linux_kernel
