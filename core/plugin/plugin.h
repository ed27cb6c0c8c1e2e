// The plugin API. A plugin declares what it is (name, description, options,
// the profile types and symbols it needs), states its columns once as a
// RowSchema of its row struct (rows.h), and adds rows of that struct from a
// Session. It never renders, never exits, and reports trouble with single
// items as warnings (core/linux/warnings.h) so that one smeared structure
// does not cost the analyst the rest of the output.
//
//   MEMSCOPE_REGISTER(plugin_registry(), make_plugin(PluginInfo{.name = "linux.lsmod", ...}, kLsmodColumns, run_lsmod));
//
// with `void run_lsmod(Session&, const PluginArgs&, Rows<ModuleRow>&)`.
// docs/plugins.md has a complete example.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/linux/warnings.h"
#include "core/plugin/rows.h"
#include "core/plugin/table.h"
#include "core/util/error.h"
#include "core/util/registry.h"

namespace memscope {

class Session;

// Bumped whenever the structures below change incompatibly, so plugins built
// outside the tree can be refused rather than crash.
// 2: columns from a RowSchema (make_plugin), rows through Rows<Record>,
// warnings through Warnings.
// 3: PluginInfo::needs_options; plugins loaded from shared libraries
// (core/plugin/plugin_library.h).
constexpr int kPluginApiVersion = 3;

struct PluginOption {
  enum class Kind { Flag, Int, String };
  std::string name;  // long option name without dashes: "pid"
  Kind kind = Kind::Flag;
  std::string description;
  // Takes several values, as analysts type them: `--pid 98 101`,
  // `--pid 98 --pid 101`, and for Int options `--pid 98,101`.
  bool repeatable = false;
};

// Every member has a default, so that a plugin names only what it has
// (designated initializers leave the rest empty).
struct PluginInfo {
  std::string name = {};  // "linux.pslist"
  std::string description = {};
  std::vector<PluginOption> options = {};
  // Checked before run: a missing one is a clear error naming it.
  std::vector<std::string> required_types = {};
  std::vector<std::string> required_symbols = {};
  // Filled by make_plugin from the plugin's RowSchema; leave it empty.
  std::vector<Column> columns = {};
  // What the plugin cannot run without, in words shown when a runner that
  // gives no options (memscope report) skips it: "--pid and --dump-dir".
  // Empty: it runs with no options.
  std::string needs_options = {};
};

// Option values as given on the command line (or by a batch runner).
class PluginArgs {
 public:
  void add(const std::string& name, std::string value) { values_[name].push_back(std::move(value)); }
  void set_flag(const std::string& name) { values_[name]; }
  bool flag(const std::string& name) const { return values_.count(name) > 0; }
  bool empty() const { return values_.empty(); }
  // Every number given, each value split at commas and spaces ("98,101",
  // "98 101"); decimal, or hex with 0x. Throws Error naming the option and
  // the value for anything else.
  std::vector<int64_t> ints(const std::string& name) const;
  std::vector<std::string> strings(const std::string& name) const;
  std::optional<std::string> string(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

// A plugin as the registry and run_plugin see it. Written by make_plugin,
// not by hand: `run` fills the Table whose columns are info.columns.
struct Plugin {
  PluginInfo info;
  std::function<void(Session&, const PluginArgs&, Table&)> run;
};

// What a plugin implements: add rows of its Record, warn through
// rows.warnings().
template <typename Record>
using PluginRun = std::function<void(Session&, const PluginArgs&, Rows<Record>&)>;

// The plugin whose columns are `schema`'s and whose rows `run` adds. Throws
// Error if `info.columns` is not empty: the columns are stated once, by the
// schema.
template <typename Record>
Plugin make_plugin(PluginInfo info, const RowSchema<Record>& schema, std::type_identity_t<PluginRun<Record>> run) {
  if (!info.columns.empty())
    throw Error(info.name + ": its columns come from its RowSchema; PluginInfo::columns must stay empty");
  info.columns = schema.columns();
  auto shared = std::make_shared<const RowSchema<Record>>(schema);
  return Plugin{std::move(info), [shared, run = std::move(run)](Session& session, const PluginArgs& args,
                                                                Table& table) {
                  Warnings warnings;
                  Rows<Record> rows(*shared, table, warnings);
                  try {
                    run(session, args, rows);
                  } catch (...) {
                    table.warnings = warnings.lines();
                    throw;
                  }
                  table.warnings = warnings.lines();
                }};
}

// Why `plugin` cannot be registered (empty: it can): a name not of the form
// "os.name", a missing description or run, no columns, a column key that
// is not snake_case, repeated, or one the renderers use ("children",
// "depth", "parent"), an option name repeated or taken by the command's global
// options.
std::vector<std::string> plugin_problems(const Plugin& plugin);

// The --pid option of the process plugins (several values).
PluginOption pid_option(std::string description = "only the processes with these PIDs: 1 5 or 1,5");

// The outcome of one plugin run, self-contained: a failure is recorded here,
// not thrown, so a batch of plugins or images goes on.
struct PluginResult {
  std::string plugin;
  bool ok = false;
  std::string error;  // set when !ok
  std::chrono::duration<double> elapsed{};
  Table table;  // columns are set even on failure
};

// Every plugin, sorted by name. A plugin file registers itself with
//   MEMSCOPE_REGISTER(plugin_registry(), make_plugin(...));
// and the registry refuses it, naming the problems (plugin_problems), if
// it is not well formed: the process stops at load.
Registry<Plugin>& plugin_registry();
inline const std::vector<Plugin>& plugins() { return plugin_registry().entries(); }
inline const Plugin* find_plugin(std::string_view name) { return plugin_registry().find(name); }

// Checks the plugin's requirements against the session's profile, then runs
// it. Never throws for errors of the image or the profile.
PluginResult run_plugin(const Plugin& plugin, Session& session, const PluginArgs& args);

}  // namespace memscope
