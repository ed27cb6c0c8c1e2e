#include "core/plugin/table.h"

#include <stdexcept>

#include "core/util/error.h"

namespace memscope {
namespace {

bool holds(const Value& value, ColumnType type) {
  switch (type) {
    case ColumnType::Bool: return std::holds_alternative<bool>(value);
    case ColumnType::Int: return std::holds_alternative<int64_t>(value);
    case ColumnType::UInt: return std::holds_alternative<uint64_t>(value);
    case ColumnType::Address: return std::holds_alternative<Address>(value);
    case ColumnType::String: return std::holds_alternative<std::string>(value);
    case ColumnType::StringList: return std::holds_alternative<std::vector<std::string>>(value);
    case ColumnType::Seconds: return std::holds_alternative<Seconds>(value);
  }
  return false;
}

}  // namespace

size_t Table::column_index(const std::string& key) const {
  for (size_t i = 0; i < columns.size(); ++i)
    if (columns[i].key == key) return i;
  throw Error("no column '" + key + "'");
}

void Table::check_row(const Row& row) const {
  if (row.cells.size() != columns.size())
    throw std::logic_error("a row of " + std::to_string(row.cells.size()) + " cells for " +
                           std::to_string(columns.size()) + " columns");
  for (size_t c = 0; c < columns.size(); ++c)
    if (!std::holds_alternative<std::monostate>(row.cells[c]) && !holds(row.cells[c], columns[c].type))
      throw std::logic_error("the cell of column '" + columns[c].key + "' is not of the column's type");
  for (const Row& child : row.children) check_row(child);
}

}  // namespace memscope
