// Renderers shared by every plugin: text (an aligned table, nested rows
// marked by leading dots, cells cut to the terminal's width), json (an
// array of row objects; nested rows under "children"), jsonl (one object
// per line; a tree's rows flattened, with "depth" and "parent"), csv (a
// header row; a tree's rows flattened, with "depth" and "parent" columns),
// none (nothing: warnings and the exit status only, as Volatility's none).
#pragma once

#include <cstddef>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include "core/plugin/table.h"

namespace memscope {

enum class OutputFormat { Text, Json, Jsonl, Csv, None };

// The format a name means, ignoring case: "text", "json", "jsonl", "csv",
// "none", and Volatility 3's renderer names ("quick" and "pretty" are
// text); nullopt for anything else.
std::optional<OutputFormat> find_output_format(const std::string& name);
// As find_output_format; throws memscope::Error naming the valid names.
OutputFormat parse_output_format(const std::string& name);
// The canonical name: "text", "json", "jsonl", "csv", "none".
std::string output_format_name(OutputFormat format);
// The names -o accepts, canonical ones first.
const std::vector<std::string>& output_format_names();

struct TextOptions {
  // Lines are cut to this many characters, widest cells first, each cut
  // cell ending in "..."; 0: never cut (--wide, or not a terminal).
  size_t width = 0;
};

void render(const Table& table, OutputFormat format, std::ostream& out, const TextOptions& text = {});
void render_text(const Table& table, std::ostream& out, const TextOptions& options = {});
void render_json(const Table& table, std::ostream& out);
void render_jsonl(const Table& table, std::ostream& out);
void render_csv(const Table& table, std::ostream& out);

// A cell as text: hex for addresses, "true"/"false", "-" for null, lists
// joined by spaces with each item that holds a space, a quote or a shell
// character shell-quoted (so `alpha 'arg with spaces'` is two arguments).
std::string cell_text(const Value& value);

// `text` as a POSIX shell word: unchanged if it is plain, else in single
// quotes (a quote inside as '\'').
std::string shell_quote(const std::string& text);

// The width text output is cut to: the terminal's (stdout's), else the
// COLUMNS environment variable's, else 0 (no limit: a pipe or a file gets
// whole cells).
size_t terminal_width();

// A tree flattened, for the line-per-row formats: each row with its depth
// (0 for a root) and the row it is nested under (null for a root).
struct FlatRow {
  const Row* row;
  size_t depth;
  const Row* parent;
};
std::vector<FlatRow> flatten(const Table& table);
bool is_tree(const Table& table);

}  // namespace memscope
