#include "core/report/report_json.h"

#include <nlohmann/json.hpp>

#include "core/util/hex.h"

namespace memscope {
namespace {

// Keys in the order written, not sorted.
using Json = nlohmann::ordered_json;

// The cell encoding of cli/render/render_json.cpp (the single-plugin
// command's -o json), so that a report's rows and the command's agree
// byte for byte; test_report checks it.
Json cell_json(const Value& value) {
  struct Visitor {
    Json operator()(std::monostate) const { return nullptr; }
    Json operator()(bool b) const { return b; }
    Json operator()(int64_t v) const { return v; }
    Json operator()(uint64_t v) const { return v; }
    Json operator()(const Address& a) const { return hex_address(a.value); }
    Json operator()(const std::string& s) const { return s; }
    Json operator()(const std::vector<std::string>& list) const { return list; }
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

template <typename T>
Json optional_json(const std::optional<T>& value) {
  return value ? Json(*value) : Json(nullptr);
}

Json image_json(const ImageReport& report) {
  Json ranges = Json::array();
  for (const Range& range : report.physical_ranges)
    ranges.push_back(Json{{"start", hex_address(range.start)}, {"end", hex_address(range.end())}});
  return Json{{"path", report.path},
              {"size", optional_json(report.size)},
              {"format", optional_json(report.format)},
              {"sha256", optional_json(report.sha256)},
              {"physical_ranges", std::move(ranges)},
              {"warnings", report.image_warnings}};
}

Json kernel_json(const std::optional<KernelSummary>& kernel) {
  if (!kernel) return nullptr;
  return Json{{"banner", kernel->banner},
              {"release", kernel->release},
              {"kaslr",
               {{"virtual_shift", hex_address(kernel->virtual_shift)},
                {"physical_shift", hex_address(kernel->physical_shift)}}},
              {"dtb", hex_address(kernel->dtb)},
              {"paging_levels", kernel->paging_levels},
              {"method", kernel->method},
              {"method_detail", kernel->method_detail}};
}

Json profile_json(const std::optional<ProfileSummary>& profile) {
  if (!profile) return nullptr;
  return Json{{"source", profile->source},
              {"reason", profile->reason},
              {"path", profile->path},
              {"banner", profile->banner},
              {"producer", profile->producer}};
}

Json plugin_json(const PluginReport& plugin) {
  Json columns = Json::array();
  for (const Column& column : plugin.table.columns)
    columns.push_back(
        Json{{"name", column.key}, {"type", column_type_name(column.type)}, {"description", column.description}});
  Json rows = Json::array();
  for (const Row& row : plugin.table.rows) rows.push_back(row_json(plugin.table, row));
  Json out = Json{{"status", status_name(plugin.status)}};
  if (plugin.status != PluginStatus::Ok) out["reason"] = plugin.reason;
  out["origin"] = plugin.origin;
  // Milliseconds with microsecond precision: enough, and shorter.
  out["elapsed_ms"] = static_cast<double>(static_cast<int64_t>(plugin.elapsed_ms * 1000.0 + 0.5)) / 1000.0;
  out["columns"] = std::move(columns);
  out["rows"] = std::move(rows);
  out["warnings"] = plugin.table.warnings;
  return out;
}

}  // namespace

const char* column_type_name(ColumnType type) {
  switch (type) {
    case ColumnType::Bool:
      return "bool";
    case ColumnType::Int:
      return "int";
    case ColumnType::UInt:
      return "uint";
    case ColumnType::Address:
      return "address";
    case ColumnType::String:
      return "string";
    case ColumnType::StringList:
      return "string_list";
    case ColumnType::Seconds:
      return "seconds";
  }
  return "string";
}

std::string report_json(const ImageReport& report, int indent) {
  Json plugins = Json::object();
  for (const PluginReport& plugin : report.plugins) plugins[plugin.name] = plugin_json(plugin);
  Json document = Json{{"schema_version", kReportSchemaVersion},
                       {"tool", {{"name", "memscope"}, {"version", memscope_version()}}},
                       {"generated_at", report.generated_at},
                       {"image", image_json(report)},
                       {"kernel", kernel_json(report.kernel)},
                       {"profile", profile_json(report.profile)},
                       {"error", optional_json(report.error)},
                       {"plugins", std::move(plugins)}};
  return document.dump(indent, ' ', false, Json::error_handler_t::replace);
}

}  // namespace memscope
