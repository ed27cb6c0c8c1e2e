// linux.check_modules: the modules that /sys/module and the `modules` list
// disagree about, as analysts know the check: a module with a sysfs entry
// that is missing from the list (lsmod, /proc/modules) hides from them.
#include <map>

#include "core/linux/module_views.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

struct CheckModulesRow {
  Address offset{};
  std::optional<std::string> name{};
  bool in_list = false;
  bool in_sysfs = false;
};

const RowSchema<CheckModulesRow> kCheckModulesColumns{
    {"offset", &CheckModulesRow::offset, "address of the struct module"},
    {"name", &CheckModulesRow::name, "module name (its /sys/module name when the module's own cannot be read)"},
    {"in_list", &CheckModulesRow::in_list, "on the modules list (lsmod, /proc/modules)"},
    {"in_sysfs", &CheckModulesRow::in_sysfs, "has a /sys/module entry"},
};

void run_check_modules(Session& session, const PluginArgs&, Rows<CheckModulesRow>& rows) {
  KernelView view = kernel_view(session);
  ModuleViews views(view);
  auto listed = views.list(rows.warnings());
  auto sysfs = views.sysfs(rows.warnings());
  if (!listed || !sysfs) {
    rows.warnings().add("check_modules: without both the modules list and /sys/module there is nothing to compare");
    return;
  }
  std::map<uint64_t, CheckModulesRow> seen;
  for (uint64_t m : *listed) {
    CheckModulesRow& row = seen[m];
    row.offset = Address{m};
    row.in_list = true;
  }
  std::map<uint64_t, std::string> sysfs_names;
  for (const SysfsModule& s : *sysfs) {
    if (!s.module) continue;  // a built-in module: parameters only, no struct module
    CheckModulesRow& row = seen[s.module];
    row.offset = Address{s.module};
    row.in_sysfs = true;
    sysfs_names[s.module] = s.name;
  }
  for (auto& [address, row] : seen) {
    if (row.in_list && row.in_sysfs) continue;
    Module m = views.reader().read(address, rows.warnings());
    auto sysfs_name = sysfs_names.find(address);
    row.name = m.name ? m.name : sysfs_name != sysfs_names.end() ? std::optional(sysfs_name->second) : std::nullopt;
    if (m.name && sysfs_name != sysfs_names.end() && *m.name != sysfs_name->second)
      rows.warnings().add("module " + hex_address(address) + " is named " + *m.name + " but its /sys/module entry " +
                          sysfs_name->second);
    rows.add(row);
  }
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.check_modules",
        .description = "modules that /sys/module and the modules list disagree about",
        .options = {},
        .required_types = {"module", "list_head"},
        .required_symbols = {"modules"},
    },
    kCheckModulesColumns, run_check_modules));

}  // namespace memscope::linux_kernel
