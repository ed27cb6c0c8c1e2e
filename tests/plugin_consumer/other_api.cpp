// A plugin library as a memscope of another plugin API version built it:
// its memscope_plugin_library says version 2 (the version before
// libraries could be loaded), and nothing else of it may be touched.
#include "core/plugin/plugin_library.h"

static const char* never_called(void*) {
  __builtin_trap();  // the loader must refuse before calling anything
}

extern "C" __attribute__((visibility("default"))) const MemscopePluginLibrary memscope_plugin_library = {
    memscope::kPluginApiVersion - 1, MEMSCOPE_CXX_ABI, never_called};
