// How a plugin states its columns once and builds rows by them. A plugin's
// rows are a plain struct, and one list names each field's column:
//
//   struct ModuleRow {
//     Address offset;
//     std::optional<std::string> name;
//     std::optional<uint64_t> size;
//   };
//   const RowSchema<ModuleRow> kModuleColumns{
//       {"offset", &ModuleRow::offset, "address of the struct module"},
//       {"name", &ModuleRow::name, "module name"},
//       {"size", &ModuleRow::size, "bytes of all its memory"},
//   };
//
// The column's type comes from the field's type, and the cells of a row
// come from the fields in the list's order, so a column list and a cell
// list cannot disagree: a field of a type no column can hold does not
// compile, and a bad column name (not snake_case, repeated, or a key the
// renderers use) is refused when the plugin registers. An empty
// std::optional is a null cell ("-" in text, null in JSON).
#pragma once

#include <concepts>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "core/linux/warnings.h"
#include "core/plugin/table.h"

namespace memscope {

namespace detail {

// The column type a field of type T gives, and its cell. Supported: bool,
// integers (signed: Int, unsigned: UInt), Address, Seconds, std::string,
// std::vector<std::string>, and std::optional of any of them.
template <typename T>
struct ColumnOf {
  static constexpr bool supported = false;
};
template <>
struct ColumnOf<bool> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::Bool;
  static Value cell(bool value) { return value; }
};
template <std::signed_integral T>
struct ColumnOf<T> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::Int;
  static Value cell(T value) { return static_cast<int64_t>(value); }
};
template <std::unsigned_integral T>
struct ColumnOf<T> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::UInt;
  static Value cell(T value) { return static_cast<uint64_t>(value); }
};
template <>
struct ColumnOf<Address> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::Address;
  static Value cell(const Address& value) { return value; }
};
template <>
struct ColumnOf<Seconds> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::Seconds;
  static Value cell(const Seconds& value) { return value; }
};
template <>
struct ColumnOf<std::string> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::String;
  static Value cell(const std::string& value) { return value; }
};
template <>
struct ColumnOf<std::vector<std::string>> {
  static constexpr bool supported = true;
  static constexpr ColumnType type = ColumnType::StringList;
  static Value cell(const std::vector<std::string>& value) { return value; }
};
template <typename T>
struct ColumnOf<std::optional<T>> {
  static constexpr bool supported = ColumnOf<T>::supported;
  static constexpr ColumnType type = ColumnOf<T>::type;
  static Value cell(const std::optional<T>& value) { return value ? ColumnOf<T>::cell(*value) : Value{}; }
};

}  // namespace detail

template <typename Record>
class RowSchema {
 public:
  // One column: its key, the field it shows, what it means.
  class Field {
   public:
    template <typename T>
    Field(std::string key, T Record::*member, std::string description)  // NOLINT: built from braces on purpose
        : column_{std::move(key), ColumnType::String, std::move(description)} {
      static_assert(detail::ColumnOf<T>::supported,
                    "a column's field must be bool, an integer, Address, Seconds, std::string, "
                    "std::vector<std::string>, or a std::optional of one of them");
      if constexpr (detail::ColumnOf<T>::supported) {
        column_.type = detail::ColumnOf<T>::type;
        cell_ = [member](const Record& record) { return detail::ColumnOf<T>::cell(record.*member); };
      }
    }

   private:
    friend class RowSchema;
    Column column_;
    std::function<Value(const Record&)> cell_;
  };

  RowSchema(std::initializer_list<Field> fields) : fields_(fields) {
    for (const Field& f : fields_) columns_.push_back(f.column_);
  }

  const std::vector<Column>& columns() const { return columns_; }

  // The record as a row: one cell per column, in column order.
  Row row(const Record& record) const {
    Row out;
    out.cells.reserve(fields_.size());
    for (const Field& f : fields_) out.cells.push_back(f.cell_(record));
    return out;
  }

 private:
  std::vector<Field> fields_;
  std::vector<Column> columns_;
};

// What a plugin's run writes to: rows of its record type, and the warnings
// of the analysis (given to the kernel walkers, which add to them).
template <typename Record>
class Rows {
 public:
  Rows(const RowSchema<Record>& schema, Table& table, Warnings& warnings)
      : schema_(schema), table_(table), warnings_(warnings) {}

  // A row at the top level.
  void add(const Record& record) { table_.rows.push_back(schema_.row(record)); }
  // Trees (pstree): make rows, nest them under their parent's `children`,
  // add the roots.
  //   Row parent = rows.row(p);
  //   parent.children.push_back(rows.row(child));
  //   rows.add(std::move(parent));
  Row row(const Record& record) const { return schema_.row(record); }
  // Throws std::logic_error for a row not shaped like the columns (a row
  // made by hand rather than by row()): a bug in the plugin.
  void add(Row row) {
    table_.check_row(row);
    table_.rows.push_back(std::move(row));
  }

  size_t size() const { return table_.rows.size(); }
  Warnings& warnings() { return warnings_; }

 private:
  const RowSchema<Record>& schema_;
  Table& table_;
  Warnings& warnings_;
};

}  // namespace memscope
