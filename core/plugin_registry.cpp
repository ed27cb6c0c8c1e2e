#include <algorithm>
#include <mutex>

#include "core/error.h"
#include "core/plugin.h"

namespace memscope {
namespace {

std::vector<Plugin>& registry() {
  static std::vector<Plugin> list;
  return list;
}

}  // namespace

void register_plugin(Plugin plugin) {
  auto& list = registry();
  auto at = std::lower_bound(list.begin(), list.end(), plugin.info.name,
                             [](const Plugin& p, const std::string& name) { return p.info.name < name; });
  list.insert(at, std::move(plugin));
}

const std::vector<Plugin>& plugins() { return registry(); }

const Plugin* find_plugin(const std::string& name) {
  for (const Plugin& p : registry())
    if (p.info.name == name) return &p;
  return nullptr;
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
