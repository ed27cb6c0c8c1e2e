#include <chrono>

#include "core/util/error.h"
#include "core/util/limits.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope {
namespace {

// The profile must have what the plugin declared it needs; one message
// naming everything missing beats failing on the first.
void check_requirements(const PluginInfo& info, Session& session) {
  if (info.required_types.empty() && info.required_symbols.empty()) return;
  const Profile& profile = session.profile();
  std::string missing;
  for (const std::string& type : info.required_types)
    if (!profile.find_type(type)) missing += (missing.empty() ? "" : ", ") + ("type '" + type + "'");
  for (const std::string& symbol : info.required_symbols)
    if (!profile.symbol(symbol)) missing += (missing.empty() ? "" : ", ") + ("symbol '" + symbol + "'");
  if (!missing.empty())
    throw ProfileError(info.name + " needs " + missing + ", which profile " + profile.source() + " lacks");
}

}  // namespace

PluginResult run_plugin(const Plugin& plugin, Session& session, const PluginArgs& args) {
  PluginResult result;
  result.plugin = plugin.info.name;
  result.table.columns = plugin.info.columns;
  auto start = std::chrono::steady_clock::now();
  // The session's limits are what the walkers read while the plugin runs.
  ScopedLimits limits(session.options().limits);
  try {
    check_requirements(plugin.info, session);
    plugin.run(session, args, result.table);
    result.ok = true;
  } catch (const std::bad_alloc&) {
    result.error = plugin.info.name + ": out of memory";
  } catch (const std::exception& e) {
    result.error = plugin.info.name + ": " + e.what();
  }
  result.elapsed = std::chrono::steady_clock::now() - start;
  // What the image could not hold is missing from the rows too.
  const std::vector<std::string>& image_warnings = session.image().warnings();
  result.table.warnings.insert(result.table.warnings.begin(), image_warnings.begin(), image_warnings.end());
  return result;
}

}  // namespace memscope
