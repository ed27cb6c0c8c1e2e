// Every registered plugin is a subcommand of its own name
// (`memscope linux.pslist --pid 1`), and `memscope plugins` lists them.
#include <iostream>

#include "cli/command.h"
#include "core/plugin/plugin.h"
#include "cli/render/render.h"
#include "core/session/session.h"

namespace memscope::cli {

SessionOptions session_options(const GlobalOptions& global) {
  SessionOptions options;
  options.image = require_image(global);
  options.profile = global.profile;
  options.symbol_dirs = global.symbol_dirs;
  options.btf = global.btf;
  options.system_map = global.system_map;
  return options;
}

namespace {

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
    if (option.kind == PluginOption::Kind::Int) (void)args.ints(option.name);
  }
  return args;
}

int run_plugin_command(const Plugin& plugin, const CommandContext& ctx) {
  OutputFormat format = parse_output_format(ctx.global.output);
  PluginArgs args = plugin_args(plugin.info, ctx.options);
  Session session(session_options(ctx.global));
  PluginResult result = run_plugin(plugin, session, args);
  if (!result.ok) {
    std::cerr << "memscope: " << result.error << "\n";
    return 1;
  }
  render(result.table, format, std::cout);
  if (!ctx.global.quiet)
    for (const std::string& warning : result.table.warnings) std::cerr << "warning: " << warning << "\n";
  return 0;
}

int list_plugins(const CommandContext& ctx) {
  struct PluginRow {
    std::string name, description;
  };
  const RowSchema<PluginRow> columns{{"name", &PluginRow::name, "plugin name"},
                                     {"description", &PluginRow::description, "what it shows"}};
  Table table;
  table.columns = columns.columns();
  for (const Plugin& plugin : plugins()) table.rows.push_back(columns.row({plugin.info.name, plugin.info.description}));
  render(table, parse_output_format(ctx.global.output), std::cout);
  return 0;
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "plugins",
    .summary = "list the analysis plugins",
    .usage = "plugins",
    .add_options = {},
    .run = list_plugins,
});

}  // namespace

void register_plugin_commands() {
  for (const Plugin& plugin : plugins()) {
    command_registry().add(Command{
        .name = plugin.info.name,
        .summary = plugin.info.description,
        .usage = plugin.info.name + " -f IMAGE [-p PROFILE] [options]",
        .add_options = [&plugin](po::options_description& options) { add_plugin_options(plugin.info, options); },
        .run = [&plugin](const CommandContext& ctx) { return run_plugin_command(plugin, ctx); },
    });
  }
}

}  // namespace memscope::cli
