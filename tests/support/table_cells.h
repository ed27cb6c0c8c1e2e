// Reading a plugin's result table in tests: one typed cell, all warnings.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "core/plugin/table.h"

namespace memscope::test {

// The cell `key` of `row` when it holds a T; nullopt otherwise (null, or
// another type).
template <typename T>
std::optional<T> cell(const Table& table, const Row& row, const std::string& key) {
  const Value& v = row.cells.at(table.column_index(key));
  if (const T* value = std::get_if<T>(&v)) return *value;
  return std::nullopt;
}

// Every warning of `table`, one per line (for INFO and searches).
inline std::string all_warnings(const Table& table) {
  std::string out;
  for (const std::string& w : table.warnings) out += w + "\n";
  return out;
}

}  // namespace memscope::test
