#include <algorithm>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "cli/render/render.h"

namespace memscope {

OutputFormat parse_output_format(const std::string& name) {
  if (name == "text") return OutputFormat::Text;
  if (name == "json") return OutputFormat::Json;
  if (name == "jsonl") return OutputFormat::Jsonl;
  if (name == "csv") return OutputFormat::Csv;
  throw Error("unknown output format '" + name + "' (text, json, jsonl or csv)");
}

void render(const Table& table, OutputFormat format, std::ostream& out) {
  switch (format) {
    case OutputFormat::Text: return render_text(table, out);
    case OutputFormat::Json: return render_json(table, out);
    case OutputFormat::Jsonl: return render_jsonl(table, out);
    case OutputFormat::Csv: return render_csv(table, out);
  }
}

std::string cell_text(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return "-"; }
    std::string operator()(bool b) const { return b ? "true" : "false"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(const Address& a) const { return hex_address(a.value); }
    std::string operator()(const Seconds& s) const {
      std::string micro = std::to_string(s.nanoseconds % 1'000'000'000 / 1000);
      return std::to_string(s.nanoseconds / 1'000'000'000) + "." + std::string(6 - micro.size(), '0') + micro;
    }
    std::string operator()(const std::string& s) const { return s; }
    std::string operator()(const std::vector<std::string>& list) const {
      std::string joined;
      for (const auto& item : list) {
        if (!joined.empty()) joined += ' ';
        joined += item;
      }
      return joined;
    }
  };
  return std::visit(Visitor{}, value);
}

namespace {

// Text cells stay on one line: control characters would break the table.
std::string printable(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '.';
  return text;
}

void collect(const Row& row, size_t depth, std::vector<std::pair<size_t, std::vector<std::string>>>& lines) {
  std::vector<std::string> cells;
  cells.reserve(row.cells.size());
  for (const Value& v : row.cells) cells.push_back(printable(cell_text(v)));
  lines.emplace_back(depth, std::move(cells));
  for (const Row& child : row.children) collect(child, depth + 1, lines);
}

}  // namespace

void render_text(const Table& table, std::ostream& out) {
  std::vector<std::pair<size_t, std::vector<std::string>>> lines;
  for (const Row& row : table.rows) collect(row, 0, lines);
  const size_t n = table.columns.size();
  std::vector<size_t> width(n, 0);
  for (size_t c = 0; c < n; ++c) width[c] = table.columns[c].key.size();
  // The first column of a tree carries its depth as leading dots.
  for (const auto& [depth, cells] : lines)
    for (size_t c = 0; c < n && c < cells.size(); ++c)
      width[c] = std::max(width[c], cells[c].size() + (c == 0 ? depth : 0));
  auto emit = [&](const std::vector<std::string>& cells, size_t depth) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      std::string cell = (c == 0 ? std::string(depth, '.') : std::string()) + (c < cells.size() ? cells[c] : "");
      line += cell;
      if (c + 1 < n) line += std::string(width[c] - cell.size() + 2, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  };
  std::vector<std::string> header;
  for (const Column& column : table.columns) header.push_back(column.key);
  emit(header, 0);
  for (const auto& [depth, cells] : lines) emit(cells, depth);
}

}  // namespace memscope
