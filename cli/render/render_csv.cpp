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

bool has_children(const std::vector<Row>& rows) {
  for (const Row& row : rows)
    if (!row.children.empty()) return true;
  return false;
}

void emit(const Row& row, size_t depth, bool with_depth, std::ostream& out) {
  std::string line;
  if (with_depth) line = std::to_string(depth);
  for (size_t c = 0; c < row.cells.size(); ++c) {
    if (c > 0 || with_depth) line += ',';
    // Null cells are empty in CSV, not "-".
    if (!std::holds_alternative<std::monostate>(row.cells[c])) line += csv_field(cell_text(row.cells[c]));
  }
  out << line << "\r\n";
  for (const Row& child : row.children) emit(child, depth + 1, with_depth, out);
}

}  // namespace

void render_csv(const Table& table, std::ostream& out) {
  const bool with_depth = has_children(table.rows);
  std::string header = with_depth ? "depth" : "";
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (c > 0 || with_depth) header += ',';
    header += csv_field(table.columns[c].key);
  }
  out << header << "\r\n";
  for (const Row& row : table.rows) emit(row, 0, with_depth, out);
}

}  // namespace memscope
