// What the renderers share: format names, cells as text, shell quoting,
// trees flattened for the line-per-row formats.
#include <algorithm>
#include <cctype>

#include "cli/render/render.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope {

const std::vector<std::string>& output_format_names() {
  static const std::vector<std::string> names = {"text", "json", "jsonl", "csv", "none", "quick", "pretty"};
  return names;
}

std::optional<OutputFormat> find_output_format(const std::string& name) {
  std::string lower = name;
  for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  // Volatility 3's renderers: quick (the default) and pretty are tables.
  if (lower == "text" || lower == "quick" || lower == "pretty") return OutputFormat::Text;
  if (lower == "json") return OutputFormat::Json;
  if (lower == "jsonl") return OutputFormat::Jsonl;
  if (lower == "csv") return OutputFormat::Csv;
  if (lower == "none") return OutputFormat::None;
  return std::nullopt;
}

OutputFormat parse_output_format(const std::string& name) {
  if (auto format = find_output_format(name)) return *format;
  throw Error("unknown output format '" + name + "': text, json, jsonl, csv or none");
}

std::string output_format_name(OutputFormat format) {
  switch (format) {
    case OutputFormat::Text: return "text";
    case OutputFormat::Json: return "json";
    case OutputFormat::Jsonl: return "jsonl";
    case OutputFormat::Csv: return "csv";
    case OutputFormat::None: return "none";
  }
  return "text";
}

void render(const Table& table, OutputFormat format, std::ostream& out, const TextOptions& text) {
  switch (format) {
    case OutputFormat::Text: return render_text(table, out, text);
    case OutputFormat::Json: return render_json(table, out);
    case OutputFormat::Jsonl: return render_jsonl(table, out);
    case OutputFormat::Csv: return render_csv(table, out);
    case OutputFormat::None: return;
  }
}

std::string shell_quote(const std::string& text) {
  // Characters that would split the word or change its meaning in a shell.
  // Glob characters ([kthreadd]) are left alone: they keep the argument
  // one word, and quoting every kernel thread's name helps nobody.
  static const std::string special = " \t\n\r\v\f'\"\\`$;&|<>()";
  bool plain = !text.empty() && std::none_of(text.begin(), text.end(), [](char c) {
    return special.find(c) != std::string::npos || static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
  if (plain) return text;
  std::string quoted = "'";
  for (char c : text) {
    if (c == '\'')
      quoted += "'\\''";
    else
      quoted += c;
  }
  return quoted + "'";
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
        joined += shell_quote(item);
      }
      return joined;
    }
  };
  return std::visit(Visitor{}, value);
}

bool is_tree(const Table& table) {
  return std::any_of(table.rows.begin(), table.rows.end(), [](const Row& row) { return !row.children.empty(); });
}

namespace {

void flatten_into(const Row& row, size_t depth, const Row* parent, std::vector<FlatRow>& out) {
  out.push_back(FlatRow{&row, depth, parent});
  for (const Row& child : row.children) flatten_into(child, depth + 1, &row, out);
}

}  // namespace

std::vector<FlatRow> flatten(const Table& table) {
  std::vector<FlatRow> out;
  out.reserve(table.rows.size());
  for (const Row& row : table.rows) flatten_into(row, 0, nullptr, out);
  return out;
}

}  // namespace memscope
