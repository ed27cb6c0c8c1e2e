// A plugin named like a built-in one: refused, the built-in one kept.
#include "core/plugin/plugin_library.h"

namespace {
struct ValueRow {
  int64_t value = 0;
};
const memscope::RowSchema<ValueRow> kColumns{{"value", &ValueRow::value, "a value"}};
}  // namespace

MEMSCOPE_PLUGIN_LIBRARY(make_plugin(PluginInfo{.name = "linux.pslist", .description = "an impostor"}, kColumns,
                                    [](Session&, const PluginArgs&, Rows<ValueRow>& rows) { rows.add({1}); }));
