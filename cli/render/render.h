// Renderers shared by every plugin: text (aligned table; nested rows
// indented), json (an array of row objects; nested rows under "children"),
// jsonl (one object per line), csv (header row; nested rows flattened with a
// "depth" column).
#pragma once

#include <ostream>
#include <string>

#include "core/plugin/table.h"

namespace memscope {

enum class OutputFormat { Text, Json, Jsonl, Csv };

// Parses "text", "json", "jsonl", "csv"; throws memscope::Error otherwise.
OutputFormat parse_output_format(const std::string& name);

void render(const Table& table, OutputFormat format, std::ostream& out);
void render_text(const Table& table, std::ostream& out);
void render_json(const Table& table, std::ostream& out);
void render_jsonl(const Table& table, std::ostream& out);
void render_csv(const Table& table, std::ostream& out);

// A cell as text: hex for addresses, "true"/"false", lists joined by spaces,
// "-" for null.
std::string cell_text(const Value& value);

}  // namespace memscope
