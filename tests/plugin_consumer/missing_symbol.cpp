// A plugin that needs a function this memscope does not have (as one built
// against a newer memscope would): dlopen must fail, naming the symbol.
#include "core/plugin/plugin_library.h"
#include "core/session/session.h"

namespace memscope {
void function_of_a_newer_memscope(Session&);
}

namespace {
struct ValueRow {
  int64_t value = 0;
};
const memscope::RowSchema<ValueRow> kColumns{{"value", &ValueRow::value, "a value"}};
}  // namespace

MEMSCOPE_PLUGIN_LIBRARY(make_plugin(PluginInfo{.name = "linux.newer", .description = "needs a newer memscope"}, kColumns,
                                    [](Session& session, const PluginArgs&, Rows<ValueRow>&) {
                                      function_of_a_newer_memscope(session);
                                    }));
