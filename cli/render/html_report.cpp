#include "cli/render/html_report.h"

#include <cctype>
#include <cstdio>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "cli/render/render.h"
#include "core/report/report_json.h"
#include "core/util/hex.h"

namespace memscope {
namespace {

// Everything from the image is text for the page, never markup.
std::string esc(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      case '\0': out += "&#xFFFD;"; break;
      default: out += c;
    }
  }
  return out;
}

bool numeric(ColumnType type) {
  return type == ColumnType::Int || type == ColumnType::UInt || type == ColumnType::Seconds ||
         type == ColumnType::Bool || type == ColumnType::Address;
}

// The value the page's script sorts a cell by: an integer (as text, for
// BigInt: addresses and 64-bit counters lose nothing) for number-like
// columns, nothing (the cell's text) for the others. Null sorts first.
std::string sort_value(const Value& value) {
  struct Visitor {
    std::string operator()(std::monostate) const { return ""; }
    std::string operator()(bool b) const { return b ? "1" : "0"; }
    std::string operator()(int64_t v) const { return std::to_string(v); }
    std::string operator()(uint64_t v) const { return std::to_string(v); }
    std::string operator()(const Address& a) const { return std::to_string(a.value); }
    std::string operator()(const std::string&) const { return ""; }
    std::string operator()(const std::vector<std::string>&) const { return ""; }
    std::string operator()(const Seconds& s) const { return std::to_string(s.nanoseconds); }
  };
  return std::visit(Visitor{}, value);
}

std::string id_of(std::string_view name) {
  std::string id = "p-";
  for (char c : name) id += (std::isalnum(static_cast<unsigned char>(c)) ? c : '-');
  return id;
}

const PluginReport* find(const ImageReport& report, std::string_view name) {
  for (const PluginReport& plugin : report.plugins)
    if (plugin.name == name) return &plugin;
  return nullptr;
}

std::optional<size_t> column(const Table& table, std::string_view key) {
  for (size_t i = 0; i < table.columns.size(); ++i)
    if (table.columns[i].key == key) return i;
  return std::nullopt;
}

bool is_true(const Row& row, std::optional<size_t> index) {
  if (!index || *index >= row.cells.size()) return false;
  const bool* b = std::get_if<bool>(&row.cells[*index]);
  return b && *b;
}

std::optional<int64_t> int_cell(const Row& row, std::optional<size_t> index) {
  if (!index || *index >= row.cells.size()) return std::nullopt;
  if (const auto* v = std::get_if<int64_t>(&row.cells[*index])) return *v;
  if (const auto* v = std::get_if<uint64_t>(&row.cells[*index])) return static_cast<int64_t>(*v);
  return std::nullopt;
}

class Page {
 public:
  explicit Page(const ImageReport& report) : report_(report) {}

  std::string build() {
    head();
    out_ << "<body data-memscope-report=\"" << kReportSchemaVersion << "\">\n<header><h1>memscope report: "
         << esc(report_.path) << "</h1><p class=\"meta\">memscope " << esc(memscope_version()) << ", generated "
         << esc(report_.generated_at) << "</p></header>\n<main>\n";
    if (report_.error)
      out_ << "<section id=\"error\" class=\"alert\"><h2>The image could not be analysed</h2><p>"
           << esc(*report_.error) << "</p></section>\n";
    hidden();
    summary();
    overview();
    process_tree();
    shown_.insert("linux.pstree");  // its rows are the tree (psaux's table stays below too)
    for (const char* name : {"linux.lsmod", "linux.kmsg"}) {
      if (const PluginReport* plugin = find(report_, name)) {
        plugin_section(*plugin, name == std::string_view("linux.lsmod") ? "Modules" : "Kernel log");
        shown_.insert(name);
      }
    }
    out_ << "<h2 id=\"plugins\">Every other plugin</h2>\n";
    for (const PluginReport& plugin : report_.plugins)
      if (!shown_.count(plugin.name)) plugin_section(plugin, "");
    out_ << "</main>\n";
    script();
    out_ << "</body>\n</html>\n";
    return out_.str();
  }

 private:
  void head() {
    out_ << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         // Nothing may be fetched: the page is evidence of its own, to be
         // opened anywhere, offline.
         << "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
            "style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n"
         << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
         << "<title>memscope report: " << esc(report_.path) << "</title>\n<style>\n"
         << "body{font:14px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}"
            "header{background:#23303d;color:#fff;padding:.8em 1.5em}header h1{font-size:1.3em;margin:0;"
            "word-break:break-all}.meta{margin:.2em 0 0;color:#c9d3dc;font-size:.9em}"
            "main{padding:0 1.5em 3em}h2{margin:1.6em 0 .5em;border-bottom:1px solid #ccc}"
            "h3{margin:1.2em 0 .3em;font-size:1.05em}"
            "table{border-collapse:collapse;margin:.3em 0;background:#fff}"
            "th,td{border:1px solid #ddd;padding:2px 6px;text-align:left;vertical-align:top;"
            "font-family:ui-monospace,monospace;font-size:12.5px;white-space:pre-wrap;word-break:break-word}"
            "th{background:#eef1f4;position:sticky;top:0}th.sortable{cursor:pointer}"
            "th.asc::after{content:' \\25B2'}th.desc::after{content:' \\25BC'}"
            "table.kv th{position:static;width:12em}"
            ".alert{background:#fff0f0;border:2px solid #c62828;padding:.4em 1em;margin:1em 0}"
            ".alert h2{border:0;color:#b71c1c;margin-top:.3em}tr.hidden-row td{background:#ffd9d9}"
            ".ok{color:#1b5e20}.error{color:#b71c1c}.skipped{color:#6d6d6d}"
            ".status{font-weight:bold;margin-left:.5em}.origin,.time{color:#666;font-weight:normal;margin-left:.5em}"
            ".tools{margin:.3em 0}.tools input{width:22em;padding:2px 4px}.count{color:#666;margin-left:.6em}"
            ".desc{margin:.1em 0;color:#444}details{margin:.2em 0}"
            ".tree td.comm{white-space:pre}.wrap{overflow-x:auto}"
         << "\n</style>\n</head>\n";
  }

  void key_values(const std::vector<std::pair<std::string, std::string>>& rows) {
    out_ << "<table class=\"kv\">";
    for (const auto& [key, value] : rows) out_ << "<tr><th>" << esc(key) << "</th><td>" << esc(value) << "</td></tr>";
    out_ << "</table>\n";
  }

  // Every row whose "hidden" column is true, of every plugin that has one.
  void hidden() {
    out_ << "<section id=\"hidden\" class=\"alert\"><h2>Hidden from the kernel's own lists</h2>\n";
    bool any_plugin = false;
    for (const PluginReport& plugin : report_.plugins) {
      std::optional<size_t> flag = column(plugin.table, "hidden");
      if (!flag || plugin.table.columns[*flag].type != ColumnType::Bool) continue;
      any_plugin = true;
      std::vector<const Row*> rows;
      for (const Row& row : plugin.table.rows)
        if (is_true(row, flag)) rows.push_back(&row);
      out_ << "<h3><a href=\"#" << id_of(plugin.name) << "\">" << esc(plugin.name) << "</a>";
      if (plugin.status != PluginStatus::Ok) {
        out_ << " <span class=\"status " << status_name(plugin.status) << "\">" << status_name(plugin.status)
             << "</span></h3><p>" << esc(plugin.reason) << "</p>\n";
        continue;
      }
      out_ << ": " << rows.size() << " hidden</h3>\n";
      if (!rows.empty()) table(plugin.table, rows, "hidden-" + id_of(plugin.name), flag);
    }
    if (!any_plugin)
      out_ << "<p>No plugin that looks for hidden processes or modules ran (linux.hidden_processes, "
              "linux.hidden_modules).</p>\n";
    out_ << "</section>\n";
  }

  void summary() {
    out_ << "<h2 id=\"summary\">Image, kernel, profile</h2>\n<h3>Image</h3>\n";
    std::string ranges;
    for (const Range& r : report_.physical_ranges)
      ranges += (ranges.empty() ? "" : "\n") + hex_address(r.start) + " - " + hex_address(r.end());
    key_values({{"path", report_.path},
                {"size", report_.size ? std::to_string(*report_.size) + " bytes" : "-"},
                {"format", report_.format.value_or("-")},
                {"sha256", report_.sha256.value_or("- (not computed)")},
                {"physical ranges", ranges.empty() ? "-" : ranges}});
    if (!report_.image_warnings.empty()) warnings(report_.image_warnings, "image warnings");
    out_ << "<h3>Kernel</h3>\n";
    if (const auto& k = report_.kernel)
      key_values({{"banner", k->banner},
                  {"release", k->release},
                  {"KASLR virtual shift", hex_address(k->virtual_shift)},
                  {"KASLR physical shift", hex_address(k->physical_shift)},
                  {"DTB", hex_address(k->dtb)},
                  {"paging levels", std::to_string(k->paging_levels)},
                  {"found by", k->method + (k->method_detail.empty() ? "" : ": " + k->method_detail)}});
    else
      out_ << "<p>Not found.</p>\n";
    out_ << "<h3>Profile</h3>\n";
    if (const auto& p = report_.profile)
      key_values({{"source", p->source + (p->reason.empty() ? "" : ": " + p->reason)},
                  {"file", p->path},
                  {"banner", p->banner},
                  {"producer", p->producer.empty() ? "-" : p->producer}});
    else
      out_ << "<p>None.</p>\n";
  }

  void overview() {
    out_ << "<h2 id=\"overview\">Plugins</h2>\n<div class=\"wrap\"><table class=\"data\" id=\"overview-table\">"
            "<thead><tr><th data-t=\"str\">plugin</th><th data-t=\"str\">status</th><th data-t=\"num\">rows</th>"
            "<th data-t=\"num\">warnings</th><th data-t=\"num\">ms</th><th data-t=\"str\">origin</th>"
            "<th data-t=\"str\">reason</th></tr></thead><tbody>\n";
    for (const PluginReport& plugin : report_.plugins) {
      char ms[32];
      std::snprintf(ms, sizeof ms, "%.1f", plugin.elapsed_ms);
      out_ << "<tr><td><a href=\"#" << id_of(plugin.name) << "\">" << esc(plugin.name) << "</a></td><td class=\""
           << status_name(plugin.status) << "\">" << status_name(plugin.status) << "</td><td data-v=\""
           << plugin.table.rows.size() << "\">" << plugin.table.rows.size() << "</td><td data-v=\""
           << plugin.table.warnings.size() << "\">" << plugin.table.warnings.size() << "</td><td data-v=\""
           << static_cast<int64_t>(plugin.elapsed_ms * 1000) << "\">" << ms << "</td><td>" << esc(plugin.origin)
           << "</td><td>" << esc(plugin.reason) << "</td></tr>\n";
    }
    out_ << "</tbody></table></div>\n";
  }

  // linux.pstree's tree, each process with its command line from
  // linux.psaux (by PID).
  void process_tree() {
    out_ << "<h2 id=\"processes\">Process tree</h2>\n<section id=\"" << id_of("linux.pstree") << "\">\n";
    const PluginReport* tree = find(report_, "linux.pstree");
    if (!tree || tree->status != PluginStatus::Ok) {
      out_ << "<p>linux.pstree " << (tree ? "did not run: " + esc(tree->reason) : std::string("was not selected"))
           << ".</p>\n</section>\n";
      return;
    }
    std::map<int64_t, std::string> command_lines;
    if (const PluginReport* ps = find(report_, "linux.psaux"); ps && ps->status == PluginStatus::Ok) {
      auto pid = column(ps->table, "pid");
      auto args = column(ps->table, "args");
      for (const Row& row : ps->table.rows)
        if (auto p = int_cell(row, pid); p && args && *args < row.cells.size())
          command_lines[*p] = cell_text(row.cells[*args]);
    }
    std::set<int64_t> hidden_pids;
    if (const PluginReport* hp = find(report_, "linux.hidden_processes"); hp && hp->status == PluginStatus::Ok) {
      auto pid = column(hp->table, "pid");
      auto flag = column(hp->table, "hidden");
      for (const Row& row : hp->table.rows)
        if (auto p = int_cell(row, pid); p && is_true(row, flag)) hidden_pids.insert(*p);
    }
    const Table& table = tree->table;
    auto pid = column(table, "pid");
    auto comm = column(table, "comm");
    out_ << "<div class=\"tools\"><input type=\"search\" class=\"filter\" data-table=\"process-tree\" "
            "placeholder=\"filter processes\"><span class=\"count\"></span></div>\n"
         << "<div class=\"wrap\"><table class=\"data tree\" id=\"process-tree\" data-tree=\"1\"><thead><tr>";
    for (const Column& c : table.columns)
      out_ << "<th data-t=\"" << (numeric(c.type) ? "num" : "str") << "\" title=\"" << esc(c.description) << "\">"
           << esc(c.key) << "</th>";
    out_ << "<th data-t=\"str\" title=\"from linux.psaux\">command line</th></tr></thead><tbody>\n";
    std::function<void(const Row&, size_t)> emit = [&](const Row& row, size_t depth) {
      std::optional<int64_t> p = int_cell(row, pid);
      bool is_hidden = p && hidden_pids.count(*p);
      out_ << "<tr" << (is_hidden ? " class=\"hidden-row\"" : "") << ">";
      for (size_t c = 0; c < table.columns.size() && c < row.cells.size(); ++c) {
        std::string text = cell_text(row.cells[c]);
        if (comm && c == *comm) text = std::string(depth * 2, ' ') + text;
        out_ << "<td" << (comm && c == *comm ? " class=\"comm\"" : "") << " data-v=\"" << sort_value(row.cells[c])
             << "\">" << esc(text) << "</td>";
      }
      auto line = p ? command_lines.find(*p) : command_lines.end();
      out_ << "<td>" << (line == command_lines.end() ? "" : esc(line->second)) << "</td></tr>\n";
      for (const Row& child : row.children) emit(child, depth + 1);
    };
    for (const Row& row : table.rows) emit(row, 0);
    out_ << "</tbody></table></div>\n";
    if (!table.warnings.empty()) warnings(table.warnings, "warnings of linux.pstree");
    out_ << "</section>\n";
  }

  void warnings(const std::vector<std::string>& lines, const std::string& what) {
    out_ << "<details class=\"warnings\"><summary>" << lines.size() << " " << esc(what) << "</summary><ul>";
    for (const std::string& line : lines) out_ << "<li>" << esc(line) << "</li>";
    out_ << "</ul></details>\n";
  }

  // A plugin's rows (a tree's flattened, indented by depth): sortable
  // unless a tree, filterable.
  void table(const Table& table, const std::vector<const Row*>& rows, const std::string& id,
             std::optional<size_t> hidden_flag = std::nullopt) {
    bool tree = false;
    for (const Row* row : rows) tree = tree || !row->children.empty();
    out_ << "<div class=\"tools\"><input type=\"search\" class=\"filter\" data-table=\"" << id
         << "\" placeholder=\"filter rows\"><span class=\"count\"></span></div>\n<div class=\"wrap\"><table "
            "class=\"data\" id=\""
         << id << "\"" << (tree ? " data-tree=\"1\"" : "") << "><thead><tr>";
    for (const Column& c : table.columns)
      out_ << "<th data-t=\"" << (numeric(c.type) ? "num" : "str") << "\" title=\"" << esc(c.description) << "\">"
           << esc(c.key) << "</th>";
    out_ << "</tr></thead><tbody>\n";
    std::function<void(const Row&, size_t)> emit = [&](const Row& row, size_t depth) {
      out_ << "<tr" << (is_true(row, hidden_flag) ? " class=\"hidden-row\"" : "") << ">";
      for (size_t c = 0; c < table.columns.size() && c < row.cells.size(); ++c) {
        std::string text = cell_text(row.cells[c]);
        if (c == 0 && depth) text = std::string(depth * 2, ' ') + text;
        out_ << "<td data-v=\"" << sort_value(row.cells[c]) << "\">" << esc(text) << "</td>";
      }
      out_ << "</tr>\n";
      for (const Row& child : row.children) emit(child, depth + 1);
    };
    for (const Row* row : rows) emit(*row, 0);
    out_ << "</tbody></table></div>\n";
  }

  void plugin_section(const PluginReport& plugin, const std::string& heading) {
    if (!heading.empty()) out_ << "<h2>" << esc(heading) << "</h2>\n";
    char ms[32];
    std::snprintf(ms, sizeof ms, "%.1f ms", plugin.elapsed_ms);
    out_ << "<section class=\"plugin\" id=\"" << id_of(plugin.name) << "\"><h3>" << esc(plugin.name)
         << "<span class=\"status " << status_name(plugin.status) << "\">" << status_name(plugin.status)
         << "</span><span class=\"time\">" << ms << "</span><span class=\"origin\">" << esc(plugin.origin)
         << "</span></h3>\n";
    if (const Plugin* registered = find_plugin(plugin.name))
      out_ << "<p class=\"desc\">" << esc(registered->info.description) << "</p>\n";
    if (!plugin.reason.empty()) out_ << "<p class=\"" << status_name(plugin.status) << "\">" << esc(plugin.reason) << "</p>\n";
    if (!plugin.table.warnings.empty()) warnings(plugin.table.warnings, "warnings");
    if (plugin.status == PluginStatus::Ok) {
      std::vector<const Row*> rows;
      rows.reserve(plugin.table.rows.size());
      for (const Row& row : plugin.table.rows) rows.push_back(&row);
      table(plugin.table, rows, "t-" + id_of(plugin.name), column(plugin.table, "hidden"));
    }
    out_ << "</section>\n";
  }

  // Sorting (click a heading; numbers by value, BigInt so that 64-bit
  // addresses keep every bit) and filtering (rows holding the text, any
  // case); the row count beside each filter. Marks the page ready for tests.
  void script() {
    out_ << R"JS(<script>
"use strict";
(function () {
  function cellValue(row, index, numeric) {
    var cell = row.cells[index];
    if (!cell) return numeric ? null : "";
    if (numeric) { var v = cell.getAttribute("data-v"); return v === null || v === "" ? null : BigInt(v); }
    return cell.textContent.trim().toLowerCase();
  }
  function compare(a, b) {
    if (a === b) return 0;
    if (a === null) return -1;
    if (b === null) return 1;
    return a < b ? -1 : 1;
  }
  function count(table) {
    var tools = document.querySelector('input.filter[data-table="' + table.id + '"]');
    if (!tools) return;
    var rows = table.tBodies[0].rows, shown = 0;
    for (var i = 0; i < rows.length; i++) if (!rows[i].hidden) shown++;
    tools.nextElementSibling.textContent = shown + " of " + rows.length + " rows";
  }
  document.querySelectorAll("table.data").forEach(function (table) {
    if (!table.tHead || !table.tBodies.length) return;
    count(table);
    if (table.getAttribute("data-tree")) return;
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, index) {
      th.classList.add("sortable");
      th.addEventListener("click", function () {
        var numeric = th.getAttribute("data-t") === "num";
        var ascending = !th.classList.contains("asc");
        Array.prototype.forEach.call(th.parentNode.cells, function (h) { h.classList.remove("asc", "desc"); });
        th.classList.add(ascending ? "asc" : "desc");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) {
          var c = compare(cellValue(a, index, numeric), cellValue(b, index, numeric));
          return ascending ? c : -c;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      });
    });
  });
  document.querySelectorAll("input.filter").forEach(function (input) {
    input.addEventListener("input", function () {
      var table = document.getElementById(input.getAttribute("data-table"));
      var needle = input.value.trim().toLowerCase();
      Array.prototype.forEach.call(table.tBodies[0].rows, function (row) {
        row.hidden = needle !== "" && row.textContent.toLowerCase().indexOf(needle) < 0;
      });
      count(table);
    });
  });
  document.body.setAttribute("data-ready", "1");
})();
</script>
)JS";
  }

  const ImageReport& report_;
  std::ostringstream out_;
  std::set<std::string> shown_;
};

}  // namespace

std::string report_html(const ImageReport& report) { return Page(report).build(); }

}  // namespace memscope
