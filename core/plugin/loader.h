// Loading plugins built outside memscope's tree (core/plugin/plugin_library.h
// is what their authors include): every `*.so` file of the given folders is
// opened with dlopen, checked (the plugin API version it was built for, the
// C++ ABI, its plugins well formed and not named like one already
// registered) and its plugins added to plugin_registry(). A library that
// fails any check is refused with one line naming the file and the reason,
// and is unloaded: never a crash, never half of its plugins.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace memscope {

struct PluginLoadResult {
  // Libraries whose plugins were added: the file and the plugins' names.
  struct Library {
    std::string path;
    std::vector<std::string> plugins;
  };
  std::vector<Library> loaded;
  // One line per refused library: "<file>: <why>".
  std::vector<std::string> refused;
};

// Loads one library file. Never throws for a bad library (its refusal is
// in the result).
PluginLoadResult load_plugin_library(const std::string& path);

// Loads every regular file ending in ".so" in each folder, in name order.
// A folder given explicitly (`required`) that is missing or unreadable is
// refused like a bad library; the default user folder may be absent.
PluginLoadResult load_plugin_dirs(const std::vector<std::string>& dirs, bool required = true);

// $XDG_DATA_HOME/memscope/plugins, else $HOME/.local/share/memscope/plugins
// ("" when neither variable is set).
std::string default_plugin_dir();

// Where a registered plugin comes from: "built-in", or the library file it
// was loaded from.
std::string plugin_origin(std::string_view plugin_name);

}  // namespace memscope
