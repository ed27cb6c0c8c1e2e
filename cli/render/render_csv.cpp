#include "cli/render/render.h"

namespace memscope {
namespace {

// RFC 4180: quote fields holding a comma, quote, CR or LF; double quotes.
std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + '"';
}

// Null cells are empty in CSV, not "-".
std::string csv_cell(const Value& value) {
  return std::holds_alternative<std::monostate>(value) ? std::string() : csv_field(cell_text(value));
}

}  // namespace

// A header of the column keys, then one line per row. A tree's rows are
// flattened in the order text shows them, with two more columns: "depth"
// (0 for a root) and "parent", the first column of the row it is nested
// under (pstree: the parent's pid; empty for a root).
void render_csv(const Table& table, std::ostream& out) {
  const bool tree = is_tree(table);
  std::string header;
  for (size_t c = 0; c < table.columns.size(); ++c) header += (c > 0 ? "," : "") + csv_field(table.columns[c].key);
  if (tree) header += ",depth,parent";
  out << header << "\r\n";
  for (const FlatRow& flat : flatten(table)) {
    std::string line;
    for (size_t c = 0; c < flat.row->cells.size(); ++c) line += (c > 0 ? "," : "") + csv_cell(flat.row->cells[c]);
    if (tree)
      line += "," + std::to_string(flat.depth) + "," +
              (flat.parent && !flat.parent->cells.empty() ? csv_cell(flat.parent->cells[0]) : std::string());
    out << line << "\r\n";
  }
}

}  // namespace memscope
