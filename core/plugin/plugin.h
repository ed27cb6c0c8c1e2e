// The plugin API. A plugin declares what it is (name, description, options,
// the profile types and symbols it needs, its columns) and fills a Table
// from a Session. It never renders, never exits, and reports trouble with
// single items as warnings so that one smeared structure does not cost the
// analyst the rest of the output.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/plugin/table.h"
#include "core/util/registry.h"

namespace memscope {

class Session;

// Bumped whenever the structures below change incompatibly, so plugins built
// outside the tree can be refused rather than crash.
constexpr int kPluginApiVersion = 1;

struct PluginOption {
  enum class Kind { Flag, Int, String };
  std::string name;  // long option name without dashes: "pid"
  Kind kind = Kind::Flag;
  std::string description;
  bool repeatable = false;
};

struct PluginInfo {
  std::string name;  // "linux.pslist"
  std::string description;
  std::vector<PluginOption> options;
  // Checked before run: a missing one is a clear error naming it.
  std::vector<std::string> required_types;
  std::vector<std::string> required_symbols;
  std::vector<Column> columns;
};

// Option values as given on the command line (or by a batch runner).
class PluginArgs {
 public:
  void add(const std::string& name, std::string value) { values_[name].push_back(std::move(value)); }
  void set_flag(const std::string& name) { values_[name]; }
  bool flag(const std::string& name) const { return values_.count(name) > 0; }
  std::vector<int64_t> ints(const std::string& name) const;  // throws on a non-number
  std::vector<std::string> strings(const std::string& name) const;
  std::optional<std::string> string(const std::string& name) const;

 private:
  std::map<std::string, std::vector<std::string>> values_;
};

struct Plugin {
  PluginInfo info;
  std::function<void(Session&, const PluginArgs&, Table&)> run;
};

// The outcome of one plugin run, self-contained: a failure is recorded here,
// not thrown, so a batch of plugins or images goes on.
struct PluginResult {
  std::string plugin;
  bool ok = false;
  std::string error;  // set when !ok
  std::chrono::duration<double> elapsed{};
  Table table;  // columns are set even on failure
};

// Every plugin, sorted by name. A plugin file registers itself:
//   MEMSCOPE_REGISTER(plugin_registry(), Plugin{.info = {...}, .run = ...});
Registry<Plugin>& plugin_registry();
inline const std::vector<Plugin>& plugins() { return plugin_registry().entries(); }
inline const Plugin* find_plugin(std::string_view name) { return plugin_registry().find(name); }

// Checks the plugin's requirements against the session's profile, then runs
// it. Never throws for errors of the image or the profile.
PluginResult run_plugin(const Plugin& plugin, Session& session, const PluginArgs& args);

}  // namespace memscope
