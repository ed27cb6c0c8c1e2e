#include <nlohmann/json.hpp>

#include "core/util/hex.h"
#include "cli/render/render.h"

namespace memscope {
namespace {

nlohmann::json cell_json(const Value& value) {
  struct Visitor {
    nlohmann::json operator()(std::monostate) const { return nullptr; }
    nlohmann::json operator()(bool b) const { return b; }
    nlohmann::json operator()(int64_t v) const { return v; }
    nlohmann::json operator()(uint64_t v) const { return v; }
    nlohmann::json operator()(const Address& a) const { return hex_address(a.value); }
    nlohmann::json operator()(const std::string& s) const { return s; }
    nlohmann::json operator()(const std::vector<std::string>& list) const { return list; }
  };
  return std::visit(Visitor{}, value);
}

nlohmann::json row_json(const Table& table, const Row& row) {
  nlohmann::json object = nlohmann::json::object();
  for (size_t c = 0; c < table.columns.size() && c < row.cells.size(); ++c)
    object[table.columns[c].key] = cell_json(row.cells[c]);
  if (!row.children.empty()) {
    nlohmann::json children = nlohmann::json::array();
    for (const Row& child : row.children) children.push_back(row_json(table, child));
    object["children"] = std::move(children);
  }
  return object;
}

// Strings read from an image may hold invalid UTF-8: replace, never throw.
std::string dump(const nlohmann::json& j, int indent = -1) {
  return j.dump(indent, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

void render_json(const Table& table, std::ostream& out) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Row& row : table.rows) rows.push_back(row_json(table, row));
  out << dump(rows, 2) << '\n';
}

void render_jsonl(const Table& table, std::ostream& out) {
  for (const Row& row : table.rows) out << dump(row_json(table, row)) << '\n';
}

}  // namespace memscope
