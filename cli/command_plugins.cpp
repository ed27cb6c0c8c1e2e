// Every registered plugin is a subcommand of its own name
// (`memscope linux.pslist --pid 1`), and `memscope plugins` lists them.
// Generic over the plugin registry: options, help (the declared columns
// with their types and meaning), errors and warnings come from what each
// plugin declares, so a new plugin needs nothing here.
#include <filesystem>
#include <iostream>
#include <sstream>

#include "cli/command.h"
#include "cli/plugin_names.h"
#include "cli/render/render.h"
#include "cli/unlisted_pids.h"
#include "core/linux/discovery/discovery.h"
#include "core/plugin/loader.h"
#include "core/plugin/plugin.h"
#include "core/report/report.h"
#include "core/report/report_json.h"
#include "core/session/session.h"

namespace memscope::cli {

SessionOptions session_options(const GlobalOptions& global) {
  SessionOptions options;
  options.image = require_image(global);
  options.profile = global.profile;
  options.symbol_dirs = global.symbol_dirs;
  options.btf = global.btf;
  options.system_map = global.system_map;
  options.limits = global.limits;
  return options;
}

namespace {

const char* type_name(ColumnType type) {
  switch (type) {
    case ColumnType::Bool: return "bool";
    case ColumnType::Int: return "int";
    case ColumnType::UInt: return "uint";
    case ColumnType::Address: return "address";
    case ColumnType::String: return "string";
    case ColumnType::StringList: return "list";
    case ColumnType::Seconds: return "seconds";
  }
  return "?";
}

// The sections `memscope PLUGIN --help` adds: the columns, as declared.
std::string plugin_help(const PluginInfo& info) {
  std::ostringstream out;
  size_t key_width = 0;
  for (const Column& column : info.columns) key_width = std::max(key_width, column.key.size());
  out << "Columns (text and csv in this order; json keys too):\n";
  for (const Column& column : info.columns) {
    std::string type = type_name(column.type);
    out << "  " << column.key << std::string(key_width - column.key.size() + 2, ' ') << type
        << std::string(type.size() < 9 ? 9 - type.size() : 1, ' ') << column.description << "\n";
  }
  out << "Types: address is hex (a string in JSON), list is a JSON array (shell-quoted words in text and csv),\n"
         "seconds has microseconds; a cell that could not be read is - in text, empty in csv, null in JSON.\n";
  std::vector<std::string> names = volatility_names_of(info.name);
  if (!names.empty()) {
    out << "Volatility 3 names:";
    for (const std::string& name : names) out << " " << name;
    out << "\n";
  }
  return out.str();
}

void add_plugin_options(const PluginInfo& info, po::options_description& options) {
  for (const PluginOption& option : info.options) {
    const char* name = option.name.c_str();
    const char* help = option.description.c_str();
    switch (option.kind) {
      case PluginOption::Kind::Flag:
        options.add_options()(name, po::bool_switch(), help);
        break;
      case PluginOption::Kind::Int:
      case PluginOption::Kind::String:
        // Several values as analysts type them: `--pid 98 101` (multitoken)
        // and `--pid 98 --pid 101` (composing); PluginArgs::ints splits
        // `--pid 98,101`.
        if (option.repeatable)
          options.add_options()(name, po::value<std::vector<std::string>>()->composing()->multitoken()->value_name(
                                          option.kind == PluginOption::Kind::Int ? "N..." : "VALUE..."), help);
        else
          options.add_options()(name, po::value<std::string>()->value_name(
                                          option.kind == PluginOption::Kind::Int ? "N" : "VALUE"), help);
        break;
    }
  }
  // The report document around the rows (memscope report's, issue 13).
  options.add_options()
      ("envelope", po::bool_switch(),
       "with -o json or jsonl: the rows inside memscope report's document (the image and its SHA-256, the "
       "kernel, the profile, the warnings: docs/report-schema.json)")
      ("no-hash", po::bool_switch(), "with --envelope: do not compute the image's SHA-256");
}

PluginArgs plugin_args(const PluginInfo& info, const po::variables_map& vm) {
  PluginArgs args;
  for (const PluginOption& option : info.options) {
    if (!vm.count(option.name)) continue;
    const po::variable_value& value = vm[option.name];
    if (option.kind == PluginOption::Kind::Flag) {
      if (value.as<bool>()) args.set_flag(option.name);
    } else if (option.repeatable) {
      for (const std::string& v : value.as<std::vector<std::string>>()) args.add(option.name, v);
    } else {
      args.add(option.name, value.as<std::string>());
    }
    // A mistyped number is the analyst's error, told before the image is
    // opened rather than after the kernel is found.
    if (option.kind == PluginOption::Kind::Int) {
      try {
        (void)args.ints(option.name);
      } catch (const Error& e) {
        throw UsageError(e.what());
      }
    }
  }
  return args;
}

std::string release_of(const std::string& banner) {
  const std::string prefix = "Linux version ";
  size_t at = banner.find(prefix);
  if (at == std::string::npos) return banner.substr(0, 60);
  at += prefix.size();
  return banner.substr(at, banner.find(' ', at) - at);
}

// The kernel of the image, found before the plugin runs, so that the usual
// failures get a message that says what to do rather than what discovery
// tried (that is kept for -v).
void find_kernel(Session& session) {
  if (!session.has_profile()) session.profile();  // throws the profile sources' one-line reason
  try {
    session.kernel();
  } catch (const KernelNotFound& e) {
    const Profile& profile = session.profile();
    const std::string wanted = release_of(profile.banner());
    const std::string name = std::filesystem::path(profile.source()).filename().string();
    std::string image_release;
    bool same = false;
    for (const std::string& banner : e.banners()) {
      std::string release = release_of(banner);
      if (image_release.empty()) image_release = release;
      same = same || release == wanted;
    }
    if (!image_release.empty() && !same)
      throw DetailedError("profile " + name + " is for kernel " + wanted + ", but the image's kernel is " +
                              image_release + ": give its profile with -p, or -s DIR to choose by banner",
                          e.what());
    throw DetailedError("no Linux kernel found in " + session.options().image + " with profile " + name + " (" +
                            wanted + "): is it a memory image of this machine? (-v: what was tried)",
                        e.what());
  }
}

// Writes the rows to stdout in the chosen format (with --envelope, the
// report document is written instead, by run_plugin_command).
void write_result(const PluginResult& result, OutputFormat format, const CommandContext& ctx) {
  TextOptions text;
  text.width = ctx.global.wide ? 0 : terminal_width();
  render(result.table, format, std::cout, text);
  std::cout.flush();
}

int run_plugin_command(const Plugin& plugin, const CommandContext& ctx) {
  OutputFormat format = parse_output_format(ctx.global.output);
  PluginArgs args = plugin_args(plugin.info, ctx.options);
  // --envelope: hashing starts now, while the plugin reads the image.
  const bool envelope = ctx.options.count("envelope") && ctx.options["envelope"].as<bool>();
  const bool no_hash = ctx.options.count("no-hash") && ctx.options["no-hash"].as<bool>();
  if (no_hash && !envelope) throw UsageError("--no-hash is for --envelope, which was not given");
  if (envelope && format != OutputFormat::Json && format != OutputFormat::Jsonl)
    throw UsageError("--envelope wraps -o json or -o jsonl (the report document), not " + output_format_name(format));
  std::optional<EnvelopeBuilder> wrapper;
  if (envelope) wrapper.emplace(ctx.global.file, !no_hash);
  Session session(session_options(ctx.global));
  try {
    find_kernel(session);
  } catch (...) {
    // A kernel not found in an image cut short: the image's warnings say why.
    report_warnings(ctx.global, session.image().warnings());
    throw;
  }
  PluginResult result = run_plugin(plugin, session, args);
  if (wrapper) {
    // The document is written whether the plugin succeeded or not: its
    // status and reason say which.
    std::cout << report_json(wrapper->finish(session, plugin, result), format == OutputFormat::Json ? 2 : -1) << "\n";
    std::cout.flush();
  }
  if (!result.ok) {
    // What was found on the way (the image's own warnings) still matters.
    report_warnings(ctx.global, result.table.warnings);
    // "linux.maps: linux.maps needs type ...": the plugin's name once.
    const std::string twice = plugin.info.name + ": " + plugin.info.name + " ";
    throw Error(result.error.rfind(twice, 0) == 0 ? result.error.substr(plugin.info.name.size() + 2) : result.error);
  }
  std::vector<std::string> warnings = result.table.warnings;
  bool filters_pids = false;
  for (const PluginOption& option : plugin.info.options) filters_pids = filters_pids || option.name == "pid";
  if (filters_pids) {
    std::vector<std::string> hints =
        unlisted_pid_warnings(session, pids_without_rows(result.table, args.ints("pid")));
    warnings.insert(warnings.end(), hints.begin(), hints.end());
  }
  if (!wrapper) write_result(result, format, ctx);
  return report_warnings(ctx.global, warnings);
}

int list_plugins(const CommandContext& ctx) {
  struct PluginRow {
    std::string name, description, origin;
    std::vector<std::string> volatility;
  };
  const RowSchema<PluginRow> columns{
      {"name", &PluginRow::name, "plugin name"},
      {"description", &PluginRow::description, "what it shows"},
      {"origin", &PluginRow::origin, "built-in, or the plugin library it was loaded from"},
      {"volatility", &PluginRow::volatility, "Volatility 3's names for it"}};
  Table table;
  table.columns = columns.columns();
  for (const Plugin& plugin : plugins())
    table.rows.push_back(columns.row({plugin.info.name, plugin.info.description, plugin_origin(plugin.info.name),
                                      volatility_names_of(plugin.info.name)}));
  TextOptions text;
  text.width = ctx.global.wide ? 0 : terminal_width();
  render(table, parse_output_format(ctx.global.output), std::cout, text);
  return 0;
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "plugins",
    .summary = "list the analysis plugins (with Volatility 3's names for them)",
    .usage = "plugins [-o FORMAT]",
    .add_options = {},
    .run = list_plugins,
    .uses_image = false,
    .no_strict_because = "it reports no analysis that could be incomplete",
});

}  // namespace

void register_plugin_commands() {
  for (const Plugin& plugin : plugins()) {
    if (command_registry().find(plugin.info.name)) continue;
    command_registry().add(Command{
        .name = plugin.info.name,
        .summary = plugin.info.description,
        .usage = plugin.info.name + " -f IMAGE [-p PROFILE] [options]",
        .add_options = [&plugin](po::options_description& options) { add_plugin_options(plugin.info, options); },
        .run = [&plugin](const CommandContext& ctx) { return run_plugin_command(plugin, ctx); },
        .help = [&plugin] { return plugin_help(plugin.info); },
    });
  }
}

}  // namespace memscope::cli
