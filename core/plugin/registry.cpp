#include <algorithm>

#include "core/util/error.h"
#include "core/plugin/plugin.h"

namespace memscope {
Registry<Plugin>& plugin_registry() {
  static Registry<Plugin> registry("plugin", [](const Plugin& p) -> std::string_view { return p.info.name; });
  return registry;
}

std::vector<int64_t> PluginArgs::ints(const std::string& name) const {
  std::vector<int64_t> out;
  auto it = values_.find(name);
  if (it == values_.end()) return out;
  for (const std::string& text : it->second) {
    size_t used = 0;
    int64_t value = 0;
    try {
      value = std::stoll(text, &used, 0);
    } catch (const std::exception&) {
      used = 0;
    }
    if (used == 0 || used != text.size()) throw Error("--" + name + ": '" + text + "' is not a number");
    out.push_back(value);
  }
  return out;
}

std::vector<std::string> PluginArgs::strings(const std::string& name) const {
  auto it = values_.find(name);
  return it == values_.end() ? std::vector<std::string>{} : it->second;
}

std::optional<std::string> PluginArgs::string(const std::string& name) const {
  auto it = values_.find(name);
  if (it == values_.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

}  // namespace memscope
