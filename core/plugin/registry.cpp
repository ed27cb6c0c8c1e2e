#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/plugin/plugin.h"
#include "core/util/error.h"

namespace memscope {
namespace {

bool is_lower_word(std::string_view text, std::string_view also) {
  if (text.empty() || !(text[0] >= 'a' && text[0] <= 'z')) return false;
  return std::all_of(text.begin(), text.end(), [&](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || also.find(c) != std::string_view::npos;
  });
}

// One number as analysts type it: decimal, or hex with 0x. (std::stoll's
// base 0 would read "010" as octal 8: not what a zero-padded PID means.)
int64_t parse_int(const std::string& option, const std::string& text) {
  bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  size_t used = 0;
  int64_t value = 0;
  try {
    value = std::stoll(hex ? text.substr(2) : text, &used, hex ? 16 : 10);
    if (hex) used += 2;
  } catch (const std::exception&) {
    used = 0;
  }
  bool signed_hex = hex && !std::isxdigit(static_cast<unsigned char>(text[2]));
  if (used == 0 || used != text.size() || text[0] == '+' || std::isspace(static_cast<unsigned char>(text[0])) ||
      signed_hex)
    throw Error("--" + option + ": '" + text + "' is not a number");
  return value;
}

}  // namespace

Registry<Plugin>& plugin_registry() {
  static Registry<Plugin> registry(
      "plugin", [](const Plugin& p) -> std::string_view { return p.info.name; }, {}, plugin_problems);
  return registry;
}

std::vector<int64_t> PluginArgs::ints(const std::string& name) const {
  std::vector<int64_t> out;
  auto it = values_.find(name);
  if (it == values_.end()) return out;
  for (const std::string& value : it->second) {
    size_t before = out.size();
    size_t from = 0;
    while (from <= value.size()) {
      size_t end = value.find_first_of(", \t", from);
      if (end == std::string::npos) end = value.size();
      // "98, 101" and a trailing comma leave empty pieces: not an error.
      if (end > from) out.push_back(parse_int(name, value.substr(from, end - from)));
      from = end + 1;
    }
    if (out.size() == before) throw Error("--" + name + ": '" + value + "' is not a number");
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

PluginOption pid_option(std::string description) {
  return PluginOption{"pid", PluginOption::Kind::Int, std::move(description), true};
}

std::vector<std::string> plugin_problems(const Plugin& plugin) {
  const PluginInfo& info = plugin.info;
  std::vector<std::string> problems;
  size_t dot = info.name.find('.');
  if (dot == std::string::npos || !is_lower_word(info.name.substr(0, dot), "") ||
      !is_lower_word(info.name.substr(dot + 1), "_"))
    problems.push_back("name '" + info.name + "' is not of the form os.name (lowercase, e.g. linux.pslist)");
  if (info.description.empty()) problems.push_back("no description");
  if (!plugin.run) problems.push_back("no run function");
  if (info.columns.empty()) problems.push_back("no columns");
  // The renderers add these keys: nested rows under "children" (JSON), a
  // tree row's depth and parent (CSV, JSONL).
  static const std::set<std::string> reserved_keys = {"children", "depth", "parent"};
  std::set<std::string> keys;
  for (const Column& column : info.columns) {
    if (!is_lower_word(column.key, "_")) problems.push_back("column '" + column.key + "' is not snake_case");
    if (reserved_keys.count(column.key))
      problems.push_back("column '" + column.key + "' is a key the renderers use");
    if (!keys.insert(column.key).second) problems.push_back("column '" + column.key + "' is declared twice");
  }
  // The command's global options, accepted after the plugin's name.
  static const std::set<std::string> global_options = {"file",   "profile", "symbols", "btf",     "system-map",
                                                       "output", "renderer", "quiet", "verbose", "strict",
                                                       "wide",   "plugin-dir", "help", "version",
                                                       // the plugin commands' own (memscope report's envelope)
                                                       "envelope", "no-hash"};
  std::set<std::string> options;
  for (const PluginOption& option : info.options) {
    if (!is_lower_word(option.name, "-"))
      problems.push_back("option '" + option.name + "' is not lowercase-with-dashes");
    if (global_options.count(option.name))
      problems.push_back("option '" + option.name + "' is one of memscope's global options");
    if (!options.insert(option.name).second) problems.push_back("option '" + option.name + "' is declared twice");
  }
  return problems;
}

}  // namespace memscope
