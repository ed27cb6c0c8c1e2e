#include "core/plugin/loader.h"

#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <map>
#include <mutex>
#include <set>
#include <utility>

#include "core/plugin/plugin.h"
#include "core/plugin/plugin_library.h"

namespace memscope {
namespace {

std::mutex g_origins_mutex;
std::map<std::string, std::string, std::less<>>& origins() {
  static std::map<std::string, std::string, std::less<>> map;
  return map;
}

// Closes a refused library; a loaded one stays open for the process's life
// (its plugins' code lives in it).
struct LibraryHandle {
  void* handle = nullptr;
  ~LibraryHandle() {
    if (handle) ::dlclose(handle);
  }
  void* release() { return std::exchange(handle, nullptr); }
};

std::string refusal(const std::string& path, const std::string& why) { return path + ": " + why; }

bool is_library_name(const std::string& name) {
  return name.size() > 3 && name.compare(name.size() - 3, 3, ".so") == 0 && name[0] != '.';
}

}  // namespace

const char* memscope_cxx_abi() { return MEMSCOPE_CXX_ABI; }

PluginLoadResult load_plugin_library(const std::string& path) {
  PluginLoadResult result;
  auto refuse = [&](const std::string& why) {
    result.refused.push_back(refusal(path, why));
    return result;
  };
  // A path without '/' would make dlopen search the system's library path.
  std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  LibraryHandle library;
  // RTLD_NOW: a symbol of memscope's the library needs and this memscope
  // does not have is an error here, naming it, rather than a crash later.
  // RTLD_LOCAL: one library's symbols do not satisfy another's.
  ::dlerror();
  library.handle = ::dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!library.handle) {
    const char* why = ::dlerror();
    return refuse(std::string("cannot load: ") + (why ? why : "dlopen failed"));
  }
  ::dlerror();
  const auto* entry = static_cast<const MemscopePluginLibrary*>(::dlsym(library.handle, "memscope_plugin_library"));
  if (!entry)
    return refuse(
        "not a memscope plugin library: no symbol memscope_plugin_library (a library declares its plugins with "
        "MEMSCOPE_PLUGIN_LIBRARY, core/plugin/plugin_library.h)");
  // The version first: it is the one member whose place never changes.
  if (entry->api_version != kPluginApiVersion)
    return refuse("built for plugin API version " + std::to_string(entry->api_version) + ", this memscope has " +
                  std::to_string(kPluginApiVersion) + ": rebuild it against this memscope's package");
  if (!entry->cxx_abi || std::strcmp(entry->cxx_abi, memscope_cxx_abi()) != 0)
    return refuse(std::string("built with another C++ ABI (") + (entry->cxx_abi ? entry->cxx_abi : "none") +
                  ", memscope has " + memscope_cxx_abi() + "): rebuild it with memscope's compiler");
  if (!entry->add_plugins) return refuse("its memscope_plugin_library has no add_plugins function");

  std::vector<Plugin> made;
  if (const char* failure = entry->add_plugins(&made)) return refuse(std::string("making its plugins failed: ") + failure);
  if (made.empty()) return refuse("declares no plugin");
  // Every plugin checked before any is added: a library is loaded whole or
  // not at all.
  std::set<std::string> names;
  for (const Plugin& plugin : made) {
    std::vector<std::string> problems = plugin_problems(plugin);
    if (find_plugin(plugin.info.name)) {
      std::string origin = plugin_origin(plugin.info.name);
      problems.push_back("a plugin of that name is already registered (" + origin + ")");
    }
    if (!names.insert(plugin.info.name).second) problems.push_back("declared twice in the library");
    if (!problems.empty()) {
      std::string text = "plugin " + plugin.info.name + ": ";
      for (size_t i = 0; i < problems.size(); ++i) text += (i ? "; " : "") + problems[i];
      return refuse(text);
    }
  }
  PluginLoadResult::Library loaded{path, {}};
  {
    std::lock_guard lock(g_origins_mutex);
    for (Plugin& plugin : made) {
      loaded.plugins.push_back(plugin.info.name);
      origins()[plugin.info.name] = path;
      plugin_registry().add(std::move(plugin));
    }
  }
  library.release();
  result.loaded.push_back(std::move(loaded));
  return result;
}

PluginLoadResult load_plugin_dirs(const std::vector<std::string>& dirs, bool required) {
  PluginLoadResult result;
  for (const std::string& dir : dirs) {
    DIR* folder = ::opendir(dir.c_str());
    if (!folder) {
      if (required || errno != ENOENT)
        result.refused.push_back(refusal(dir, std::string("cannot read the plugin folder: ") + std::strerror(errno)));
      continue;
    }
    std::vector<std::string> files;
    while (const dirent* e = ::readdir(folder)) {
      std::string name = e->d_name;
      if (!is_library_name(name)) continue;
      std::string path = dir + (dir.empty() || dir.back() == '/' ? "" : "/") + name;
      struct stat st {};
      if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(path);
    }
    ::closedir(folder);
    std::sort(files.begin(), files.end());
    for (const std::string& file : files) {
      PluginLoadResult one = load_plugin_library(file);
      result.loaded.insert(result.loaded.end(), one.loaded.begin(), one.loaded.end());
      result.refused.insert(result.refused.end(), one.refused.begin(), one.refused.end());
    }
  }
  return result;
}

std::string default_plugin_dir() {
  if (const char* data = std::getenv("XDG_DATA_HOME"); data && *data == '/')
    return std::string(data) + "/memscope/plugins";
  if (const char* home = std::getenv("HOME"); home && *home)
    return std::string(home) + "/.local/share/memscope/plugins";
  return "";
}

std::string plugin_origin(std::string_view plugin_name) {
  std::lock_guard lock(g_origins_mutex);
  auto it = origins().find(plugin_name);
  return it == origins().end() ? "built-in" : it->second;
}

}  // namespace memscope
