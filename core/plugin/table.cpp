#include "core/plugin/table.h"

#include "core/util/error.h"

namespace memscope {

size_t Table::column_index(const std::string& key) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].key == key) return i;
  throw Error("no column '" + key + "'");
}

}  // namespace memscope
