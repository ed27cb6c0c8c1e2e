#include <nlohmann/json.hpp>

#include "core/util/hex.h"
#include "cli/render/render.h"

namespace memscope {
namespace {

// Keys in column order, as in the text and CSV output ("children" last),
// not sorted as nlohmann::json would.
using Json = nlohmann::ordered_json;

Json cell_json(const Value& value) {
  struct Visitor {
    Json operator()(std::monostate) const { return nullptr; }
    Json operator()(bool b) const { return b; }
    Json operator()(int64_t v) const { return v; }
    Json operator()(uint64_t v) const { return v; }
    Json operator()(const Address& a) const { return hex_address(a.value); }
    Json operator()(const std::string& s) const { return s; }
    Json operator()(const std::vector<std::string>& list) const { return list; }
    // Microseconds as a decimal number: the shortest double that reads back
    // as that number prints as dmesg does (2.840704).
    Json operator()(const Seconds& s) const { return static_cast<double>(s.nanoseconds / 1000) / 1e6; }
  };
  return std::visit(Visitor{}, value);
}

Json row_json(const Table& table, const Row& row) {
  Json object = Json::object();
  for (size_t c = 0; c < table.columns.size() && c < row.cells.size(); ++c)
    object[table.columns[c].key] = cell_json(row.cells[c]);
  if (!row.children.empty()) {
    Json children = Json::array();
    for (const Row& child : row.children) children.push_back(row_json(table, child));
    object["children"] = std::move(children);
  }
  return object;
}

// Strings read from an image may hold invalid UTF-8: replace, never throw.
std::string dump(const Json& j, int indent = -1) {
  return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

void render_json(const Table& table, std::ostream& out) {
  Json rows = Json::array();
  for (const Row& row : table.rows) rows.push_back(row_json(table, row));
  out << dump(rows, 2) << '\n';
}

// One row per line, every plugin's: a tree's rows flattened in the order
// text shows them, each with its depth and the first column of the row it
// is nested under (pstree: the parent's pid), after the columns.
void render_jsonl(const Table& table, std::ostream& out) {
  if (!is_tree(table)) {
    for (const Row& row : table.rows) out << dump(row_json(table, row)) << '\n';
    return;
  }
  for (const FlatRow& flat : flatten(table)) {
    Json object = Json::object();
    for (size_t c = 0; c < table.columns.size() && c < flat.row->cells.size(); ++c)
      object[table.columns[c].key] = cell_json(flat.row->cells[c]);
    object["depth"] = flat.depth;
    object["parent"] = flat.parent && !flat.parent->cells.empty() ? cell_json(flat.parent->cells[0]) : Json(nullptr);
    out << dump(object) << '\n';
  }
}

}  // namespace memscope
