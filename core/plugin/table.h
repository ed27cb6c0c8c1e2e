// What a plugin produces: typed columns and rows, independent of how they
// are rendered (text, JSON, JSONL, CSV today; batch reports and HTML later).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

namespace memscope {

// An address or pointer value: rendered as a "0x..." hex string.
struct Address {
  uint64_t value = 0;
  bool operator==(const Address&) const = default;
};

// A time in seconds with microsecond precision, as dmesg prints a kernel
// log timestamp: "2.840704" in text, the number 2.840704 in JSON. Kept in
// nanoseconds (an exact integer), not as a double.
struct Seconds {
  uint64_t nanoseconds = 0;
  bool operator==(const Seconds&) const = default;
};

enum class ColumnType { Bool, Int, UInt, Address, String, StringList, Seconds };

// A cell: null (unknown / unreadable) or a value of the column's type.
using Value = std::variant<std::monostate, bool, int64_t, uint64_t, Address, std::string,
                           std::vector<std::string>, Seconds>;

struct Column {
  std::string key;  // lowercase snake_case: "pid", "start_time"
  ColumnType type = ColumnType::String;
  std::string description;
};

// Plugins build rows through a RowSchema (core/plugin/rows.h), never cell
// by cell.
struct Row {
  std::vector<Value> cells;   // one per column, in column order
  std::vector<Row> children;  // nested rows (pstree); empty for flat tables
};

struct Table {
  std::vector<Column> columns;
  std::vector<Row> rows;
  // Problems met on the way that did not stop the analysis ("task at 0x...:
  // cannot read comm: ..."). Rendered on stderr in text mode.
  std::vector<std::string> warnings;

  size_t column_index(const std::string& key) const;  // throws if absent
  // Throws std::logic_error unless `row` and its children have one cell per
  // column, each null or of its column's type: rows made through a
  // RowSchema always are (see rows.h); this catches one made by hand.
  void check_row(const Row& row) const;
};

}  // namespace memscope
