// linux.hidden_modules: kernel modules that are not on the `modules` list
// (what lsmod and /proc/modules show) but that another view of the kernel
// still holds: /sys/module's kobjects, the module tree, or a struct module
// found in module memory that holds together. A rootkit that unlinks
// itself from the list is found here.
#include "core/linux/module_views.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct HiddenModuleRow {
  Address offset{};
  std::optional<std::string> name{};
  std::optional<uint64_t> size{};
  std::optional<std::string> state{};
  std::optional<Address> base{};
  std::vector<std::string> found_by{};
  bool hidden = false;
};

const RowSchema<HiddenModuleRow> kHiddenModuleColumns{
    {"offset", &HiddenModuleRow::offset, "address of the struct module"},
    {"name", &HiddenModuleRow::name, "module name"},
    {"size", &HiddenModuleRow::size, "bytes of all its memory regions, as /proc/modules counts them"},
    {"state", &HiddenModuleRow::state, "Live, Loading, Unloading or Unformed"},
    {"base", &HiddenModuleRow::base, "start of the module's core (text) memory"},
    {"found_by", &HiddenModuleRow::found_by, "the views that hold it: list, sysfs, mod_tree, memory"},
    {"hidden", &HiddenModuleRow::hidden, "true when it is not on the modules list"},
};

void run_hidden_modules(Session& session, const PluginArgs& args, Rows<HiddenModuleRow>& rows) {
  KernelView view = kernel_view(session);
  ModuleViews views(view);
  const bool all = args.flag("all");
  bool list_read = false;
  std::vector<ModuleSighting> sightings = views.all(rows.warnings(), true, &list_read);
  if (!list_read)
    rows.warnings().add("hidden_modules: without the modules list no module can be called hidden");
  for (const ModuleSighting& s : sightings) {
    const bool hidden = list_read && !(s.views & kModuleInList);
    if (!hidden && !all) continue;
    Module m = views.reader().read(s.address, rows.warnings());
    rows.add({.offset = Address{s.address},
              .name = m.name ? m.name : s.sysfs_name,
              .size = m.size,
              .state = m.state,
              .base = m.base ? std::optional(Address{*m.base}) : std::nullopt,
              .found_by = module_view_names(s.views),
              .hidden = hidden});
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.hidden_modules",
        .description = "modules missing from the modules list but held by sysfs, mod_tree or module memory",
        .options = {{"all", PluginOption::Kind::Flag, "list every module any view holds, hidden or not", false}},
        .required_types = {"module", "list_head"},
        .required_symbols = {},
    },
    kHiddenModuleColumns, run_hidden_modules));

}  // namespace memscope::linux_kernel
