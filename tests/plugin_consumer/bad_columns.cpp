// Two plugins, the second with a column name that is not snake_case: the
// library is refused whole, its first plugin is not registered either.
#include "core/plugin/plugin_library.h"

namespace {
struct ValueRow {
  int64_t value = 0;
};
const memscope::RowSchema<ValueRow> kGood{{"value", &ValueRow::value, "a value"}};
const memscope::RowSchema<ValueRow> kBad{{"Bad Name", &ValueRow::value, "a value"}};
}  // namespace

MEMSCOPE_PLUGIN_LIBRARY(make_plugin(PluginInfo{.name = "linux.half_good", .description = "fine"}, kGood,
                                    [](Session&, const PluginArgs&, Rows<ValueRow>& rows) { rows.add({1}); }),
                        make_plugin(PluginInfo{.name = "linux.half_bad", .description = "bad column"}, kBad,
                                    [](Session&, const PluginArgs&, Rows<ValueRow>& rows) { rows.add({1}); }));
