// The text table: a header of the column keys, one aligned line per row, a
// tree's depth as leading dots in its first column. Cells are measured in
// characters (UTF-8 code points), and cut when the table is wider than
// the terminal.
#include <algorithm>

#include "cli/render/render.h"
#include "core/util/printable.h"

namespace memscope {
namespace {

// Text cells stay on one line and cannot drive the terminal: control
// characters (C0 and C1) and bytes that are not UTF-8 (a comm, a path read
// from the image) are shown as '.'. Cells are cut to the column's width
// later.
std::string printable(const std::string& text) { return printable_text(text, kMaxShownTextBytes); }

size_t characters(const std::string& text) {
  return static_cast<size_t>(std::count_if(text.begin(), text.end(), [](char c) {
    return (static_cast<unsigned char>(c) & 0xC0) != 0x80;
  }));
}

// The first `keep` characters of `text` (never half a UTF-8 sequence).
std::string first_characters(const std::string& text, size_t keep) {
  size_t seen = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      if (seen == keep) return text.substr(0, i);
      ++seen;
    }
  }
  return text;
}

constexpr std::string_view kCut = "...";
constexpr size_t kGap = 2;

// How wide each column may be for the table to fit `width`: every column
// keeps at least its header (and room for a cut cell), and the widest are
// cut to one common cap, as large as fits. Without a limit, or when the
// table fits, the natural widths.
std::vector<size_t> fitted_widths(const std::vector<size_t>& natural, const std::vector<size_t>& floor, size_t width) {
  const size_t n = natural.size();
  size_t gaps = n > 0 ? kGap * (n - 1) : 0;
  size_t total = gaps;
  for (size_t w : natural) total += w;
  if (width == 0 || total <= width) return natural;
  auto with_cap = [&](size_t cap) {
    std::vector<size_t> out(n);
    for (size_t c = 0; c < n; ++c) out[c] = std::min(natural[c], std::max(cap, floor[c]));
    return out;
  };
  auto fits = [&](size_t cap) {
    size_t sum = gaps;
    for (size_t w : with_cap(cap)) sum += w;
    return sum <= width;
  };
  size_t low = 0, high = *std::max_element(natural.begin(), natural.end());
  // The largest cap that fits (0 if even the floors do not: the lines are
  // then as narrow as they can be, and longer than the terminal).
  while (low < high) {
    size_t mid = (low + high + 1) / 2;
    if (fits(mid))
      low = mid;
    else
      high = mid - 1;
  }
  return with_cap(low);
}

}  // namespace

void render_text(const Table& table, std::ostream& out, const TextOptions& options) {
  const size_t n = table.columns.size();
  std::vector<std::vector<std::string>> lines;
  std::vector<std::string> header;
  for (const Column& column : table.columns) header.push_back(column.key);
  lines.push_back(header);
  for (const FlatRow& flat : flatten(table)) {
    std::vector<std::string> cells(n);
    for (size_t c = 0; c < n && c < flat.row->cells.size(); ++c) cells[c] = printable(cell_text(flat.row->cells[c]));
    // The first column of a tree carries its depth as leading dots.
    if (n > 0) cells[0] = std::string(flat.depth, '.') + cells[0];
    lines.push_back(std::move(cells));
  }
  std::vector<size_t> natural(n, 0), floor(n, 0);
  for (const auto& cells : lines)
    for (size_t c = 0; c < n; ++c) natural[c] = std::max(natural[c], characters(cells[c]));
  for (size_t c = 0; c < n; ++c) floor[c] = std::min(natural[c], std::max(header[c].size(), kCut.size() + 3));
  std::vector<size_t> width = fitted_widths(natural, floor, options.width);

  for (const auto& cells : lines) {
    std::string line;
    for (size_t c = 0; c < n; ++c) {
      std::string cell = cells[c];
      size_t shown = characters(cell);
      if (shown > width[c]) {
        cell = first_characters(cell, width[c] - std::min(width[c], kCut.size())) + std::string(kCut);
        shown = width[c];
      }
      line += cell;
      if (c + 1 < n) line += std::string(width[c] - shown + kGap, ' ');
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out << line << '\n';
  }
}

}  // namespace memscope
