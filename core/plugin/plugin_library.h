// Plugins from outside memscope's tree: a shared library built against the
// installed package (find_package(memscope) or pkg-config memscope) that
// memscope loads from `--plugin-dir DIR` and from the user's folder
// ($XDG_DATA_HOME/memscope/plugins, else ~/.local/share/memscope/plugins).
// docs/plugin-authors.md is the tutorial; examples/kthreads is a complete
// one.
//
// A library states its plugins with one macro, at namespace scope in one
// of its files:
//
//   MEMSCOPE_PLUGIN_LIBRARY(
//       make_plugin(PluginInfo{.name = "linux.kthreads", ...}, kKthreadColumns, run_kthreads));
//
// (several plugins: several arguments). It must not use MEMSCOPE_REGISTER:
// the loader checks the library before any of its plugins is made.
//
// The ABI. The macro defines one C symbol, `memscope_plugin_library`, a
// MemscopePluginLibrary whose first member is the plugin API version the
// library was compiled with (kPluginApiVersion). The loader reads that int
// first and refuses, naming the file, a library of another version, or one
// built by a compiler with another C++ ABI (the plugins are C++ objects:
// std::string, std::function, Table), before it calls anything in the
// library. The layout of this struct's first member never changes, so a
// library of any version can be refused cleanly.
#pragma once

#include <exception>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"

extern "C" {

// C layout; append members only, with kPluginApiVersion bumped.
struct MemscopePluginLibrary {
  int api_version;               // kPluginApiVersion of the headers the library was built with
  const char* cxx_abi;           // MEMSCOPE_CXX_ABI as that compiler expanded it
  // Appends the library's plugins to *(std::vector<memscope::Plugin>*)out.
  // Returns nullptr, or what went wrong (a message the library keeps).
  const char* (*add_plugins)(void* out);
};

}  // extern "C"

// The C++ ABI a library and memscope must share: the compiler's ABI version
// and libstdc++'s std::string layout. A string literal, so that it is the
// compiler of the plugin, not memscope's, that decides it.
#define MEMSCOPE_STRINGIFY2(x) #x
#define MEMSCOPE_STRINGIFY(x) MEMSCOPE_STRINGIFY2(x)
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define MEMSCOPE_CXX_STRING_ABI MEMSCOPE_STRINGIFY(_GLIBCXX_USE_CXX11_ABI)
#else
#define MEMSCOPE_CXX_STRING_ABI "none"
#endif
#define MEMSCOPE_CXX_ABI "gxx-abi-" MEMSCOPE_STRINGIFY(__GXX_ABI_VERSION) "-cxx11-string-" MEMSCOPE_CXX_STRING_ABI

namespace memscope {

// The C++ ABI memscope itself was built with (MEMSCOPE_CXX_ABI as its
// compiler expanded it).
const char* memscope_cxx_abi();

namespace detail {
// Runs `fill` (which makes the library's plugins) and appends what it made
// to *(std::vector<Plugin>*)out; what it throws becomes the message.
template <typename Fill>
const char* add_library_plugins(void* out, Fill fill) noexcept {
  static std::string failure;
  try {
    std::vector<Plugin> made;
    fill(made);
    auto* list = static_cast<std::vector<Plugin>*>(out);
    for (Plugin& plugin : made) list->push_back(std::move(plugin));
    return nullptr;
  } catch (const std::exception& e) {
    failure = e.what();
  } catch (...) {
    failure = "an exception that is not a std::exception";
  }
  return failure.c_str();
}
}  // namespace detail

}  // namespace memscope

// The plugins are made inside add_plugins (never at load), so a library of
// a refused version never runs any of its code beyond its own constructors.
#define MEMSCOPE_PLUGIN_LIBRARY(...)                                                               \
  static const char* memscope_plugin_library_add(void* out) noexcept {                             \
    return ::memscope::detail::add_library_plugins(out, [](std::vector<::memscope::Plugin>& made) { \
      using namespace ::memscope;                                                                  \
      for (Plugin& plugin : std::vector<Plugin>{__VA_ARGS__}) made.push_back(std::move(plugin));   \
    });                                                                                            \
  }                                                                                                \
  extern "C" __attribute__((visibility("default"))) const MemscopePluginLibrary                   \
      memscope_plugin_library = {::memscope::kPluginApiVersion, MEMSCOPE_CXX_ABI, memscope_plugin_library_add}
