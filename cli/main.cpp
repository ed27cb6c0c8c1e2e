// The `memscope` command: global options, then a subcommand dispatched by
// name. Global options are accepted before or after the subcommand name
// (`memscope -f IMG -o json info` == `memscope info -f IMG -o json`), as
// Volatility 3 users type them, and so are Volatility's plugin names
// (cli/plugin_names.h) and renderer names.
//
// Nothing typed is ignored: an unknown name or option, an argument no one
// uses, a value of the wrong kind is a usage error (exit status 2) with a
// suggestion when one is close. Every error is one line on stderr
// (cli/errors.h); docs/cli.md lists the exit statuses.
#include <cctype>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/errors.h"
#include "cli/plugin_names.h"
#include "cli/render/render.h"
#include "cli/suggest.h"
#include "core/plugin/loader.h"
#include "core/plugin/plugin.h"
#include "core/scan/cancel.h"
#include "core/util/progress.h"

namespace po = boost::program_options;
namespace fs = std::filesystem;
using namespace memscope::cli;

namespace {

const char* const kVersion = MEMSCOPE_VERSION;

const char* const kExitStatuses =
    "Exit status:\n"
    "  0  success\n"
    "  1  the analysis could not be done (unreadable image, no kernel found, no profile)\n"
    "  2  usage error (unknown subcommand, plugin or option, bad value, an argument not used)\n"
    "  3  with --strict: the analysis ran, but some results are incomplete (warnings on stderr)\n"
    "  130  interrupted (Ctrl-C); what was found is printed, marked incomplete\n";

std::string lowercase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return text;
}

// Every spelling of an option that takes a value ("-f", "--file"), so that
// the value is not mistaken for the subcommand's name.
std::set<std::string> options_with_values(const po::options_description& options) {
  std::set<std::string> out;
  for (const auto& option : options.options()) {
    if (option->semantic()->max_tokens() == 0) continue;
    for (const std::string& name : {option->canonical_display_name(po::command_line_style::allow_long),
                                    option->canonical_display_name(po::command_line_style::allow_dash_for_short)})
      if (!name.empty()) out.insert(name);
  }
  return out;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : commands())
    if (c.name == name) return &c;
  for (const Command& c : commands())
    if (lowercase(c.name) == lowercase(name)) return &c;
  return nullptr;
}

std::vector<std::string> command_names() {
  std::vector<std::string> names;
  for (const Command& c : commands()) names.push_back(c.name);
  for (const VolatilityName& v : volatility_names()) names.emplace_back(v.volatility);
  return names;
}

// The subcommand `typed` names: memscope's name in any case, a Volatility
// name (whole, or without its class), or "os.module.Class" of a memscope
// plugin. `extra` gets the options a Volatility name implies.
const Command& resolve_command(const std::string& typed, std::vector<std::string>& extra, bool verbose) {
  if (const Command* command = find_command(typed)) return *command;
  if (const VolatilityName* name = find_volatility_name(typed)) {
    const Command* command = find_command(std::string(name->memscope));
    if (command) {
      for (std::string_view option : name->options) extra.emplace_back(option);
      if (verbose) {
        std::string line = "memscope: " + typed + " is memscope " + command->name;
        for (const std::string& option : extra) line += " " + option;
        std::cerr << line << "\n";
      }
      return *command;
    }
  }
  // linux.pslist.PsList for any plugin Volatility spells like memscope.
  size_t dot = typed.rfind('.');
  if (dot != std::string::npos && dot > 0 && typed.find('.') != dot)
    if (const Command* command = find_command(typed.substr(0, dot))) return *command;
  std::string message = "unknown subcommand or plugin '" + typed + "'";
  if (auto suggestion = closest(typed, command_names())) message += ": did you mean " + *suggestion + "?";
  message += " (memscope plugins lists the plugins, memscope --help the subcommands)";
  throw UsageError(message);
}

void print_general_help(const po::options_description& globals) {
  std::cout << "memscope " << kVersion << ": forensic analysis of memory images\n\n"
            << "Usage: memscope [global options] SUBCOMMAND [options] [arguments]\n"
            << "       memscope -f IMAGE [-p PROFILE] PLUGIN [plugin options]\n\n";
  size_t width = 0;
  for (const Command& c : commands()) width = std::max(width, c.name.size());
  auto list = [&](bool plugins) {
    for (const Command& c : commands())
      if ((memscope::find_plugin(c.name) != nullptr) == plugins)
        std::cout << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
  };
  std::cout << "Subcommands:\n";
  list(false);
  std::cout << "\nPlugins (Volatility 3's names work too: linux.pslist.PsList, linux.proc.Maps):\n";
  list(true);
  std::cout << "\n" << globals << "\n" << kExitStatuses
            << "\nExample: memscope -f image.lime linux.pslist --pid 1 200 -o json\n"
            << "More: memscope NAME --help; docs/cli.md\n";
}

void print_command_help(const Command& command, const po::options_description& own,
                        const po::options_description& globals) {
  std::cout << "Usage: memscope " << (command.usage.empty() ? command.name + " [options]" : command.usage)
            << "\n\n" << command.summary << "\n";
  if (!own.options().empty()) std::cout << "\n" << own;
  if (command.help) std::cout << "\n" << command.help();
  std::cout << "\n" << globals << "\n" << kExitStatuses;
}

// A boost::program_options error as a usage error that says what to type.
UsageError usage_error(const po::error& e, const Command* command, const po::options_description& all) {
  const std::string where = command ? command->name : "memscope";
  const std::string help = command ? " (memscope " + command->name + " --help lists its options)"
                                   : " (memscope --help lists the options)";
  if (const auto* unknown = dynamic_cast<const po::unknown_option*>(&e)) {
    std::string option = unknown->get_option_name();
    std::string message = where + " has no option " + option;
    if (option.rfind("--", 0) == 0) {
      std::vector<std::string> names;
      for (const auto& o : all.options())
        if (!o->long_name().empty() && o->long_name() != "positional-args") names.push_back("--" + o->long_name());
      if (auto suggestion = closest(option, names)) message += ": did you mean " + *suggestion + "?";
    }
    return UsageError(message + help);
  }
  return UsageError(std::string(e.what()) + help);
}

// -o / -r: one format, by memscope's or Volatility's name, any case. A
// folder there is Volatility's -o (output folder): say which option that is.
std::string output_format(const po::variables_map& vm, const Command& command) {
  std::vector<std::string> given;
  for (const char* option : {"output", "renderer"})
    if (vm.count(option)) given.push_back(vm[option].as<std::string>());
  if (given.empty()) return "text";
  std::optional<memscope::OutputFormat> format;
  for (const std::string& name : given) {
    auto this_one = memscope::find_output_format(name);
    if (!this_one) {
      std::error_code ec;
      if (fs::is_directory(name, ec) || name.find('/') != std::string::npos) {
        std::string folder_option;
        if (const memscope::Plugin* plugin = memscope::find_plugin(command.name))
          for (const auto& option : plugin->info.options)
            if (option.name == "dump-dir") folder_option = command.name + " writes its files into --dump-dir DIR";
        if (folder_option.empty()) {
          std::string writers;
          for (const memscope::Plugin& plugin : memscope::plugins())
            for (const auto& option : plugin.info.options)
              if (option.name == "dump-dir") writers += (writers.empty() ? "" : ", ") + plugin.info.name;
          folder_option = "plugins that write files (" + writers + ") take --dump-dir DIR";
        }
        throw UsageError("-o is the output format (text, json, jsonl, csv, none), not a folder: " + folder_option);
      }
      std::string message = "unknown output format '" + name + "': text, json, jsonl, csv or none";
      if (auto suggestion = closest(name, memscope::output_format_names()))
        message += " (did you mean " + *suggestion + "?)";
      throw UsageError(message);
    }
    if (format && *format != *this_one) throw UsageError("-o and -r name different output formats: give one");
    format = this_one;
  }
  std::string name = memscope::output_format_name(*format);
  if (!command.outputs.empty() && std::find(command.outputs.begin(), command.outputs.end(), name) == command.outputs.end()) {
    std::string valid;
    for (const std::string& o : command.outputs) valid += (valid.empty() ? "" : ", ") + o;
    throw UsageError(command.name + " has no " + name + " output (-o " + valid + ")");
  }
  return name;
}

// The files and folders of the global options are what they claim to be,
// checked before anything is opened: Volatility's -p is a plugin folder,
// memscope's a profile file.
void check_paths(const GlobalOptions& global, const Command& command, const po::variables_map& vm) {
  if (global.strict && !command.no_strict_because.empty())
    throw UsageError("--strict does not apply to " + command.name + ": " + command.no_strict_because);
  if (!command.uses_image) {
    for (const char* option : {"file", "profile", "symbols", "btf", "system-map"})
      if (vm.count(option))
        throw UsageError(command.name + " opens no image and uses no profile: --" + option + " would be ignored" +
                         (command.usage.empty() ? "" : " (memscope " + command.usage + ")"));
    return;
  }
  std::error_code ec;
  if (!global.profile.empty() && fs::is_directory(global.profile, ec))
    throw UsageError("-p/--profile takes a profile file (ISF .json, .json.xz, .json.gz), not a folder: for a "
                     "folder of profiles use -s " + global.profile);
  for (const std::string& dir : global.symbol_dirs)
    if (fs::is_regular_file(dir, ec))
      throw UsageError("-s/--symbols takes a folder of profiles, not a file: for one profile use -p " + dir);
  for (const std::string& file : global.files)
    if (fs::is_directory(file, ec)) throw UsageError("-f/--file takes a memory image file, not a folder: " + file);
  for (const auto& [option, path] : {std::pair{"--btf", global.btf}, std::pair{"--system-map", global.system_map}})
    if (!path.empty() && fs::is_directory(path, ec))
      throw UsageError(std::string(option) + " takes a file, not a folder: " + path);
}

// Plugin libraries are loaded before anything else, so that their plugins
// are subcommands, options and completions like the built-in ones: the
// folders of --plugin-dir (found before the command line is parsed, since
// parsing needs the plugins' options), then the user's folder. A library
// refused is a warning naming the file; memscope works on without it.
void load_plugin_libraries(const std::vector<std::string>& args) {
  std::vector<std::string> dirs;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") break;
    if (args[i] == "--plugin-dir" && i + 1 < args.size()) dirs.push_back(args[++i]);
    if (args[i].rfind("--plugin-dir=", 0) == 0) dirs.push_back(args[i].substr(13));
  }
  memscope::PluginLoadResult result = memscope::load_plugin_dirs(dirs, true);
  std::string user = memscope::default_plugin_dir();
  if (!user.empty()) {
    memscope::PluginLoadResult own = memscope::load_plugin_dirs({user}, false);
    result.loaded.insert(result.loaded.end(), own.loaded.begin(), own.loaded.end());
    result.refused.insert(result.refused.end(), own.refused.begin(), own.refused.end());
  }
  for (const std::string& refused : result.refused) print_warning(refused);
}

int run(int argc, char** argv, bool& verbose) {
  std::vector<std::string> args(argv + 1, argv + argc);
  load_plugin_libraries(args);
  register_plugin_commands();

  GlobalOptions global;
  po::options_description globals = global_options(global);
  const std::set<std::string> with_values = options_with_values(globals);

  // Find the subcommand: the first argument that is neither an option nor
  // the value of a global option.
  const Command* command = nullptr;
  size_t command_at = args.size();
  std::vector<std::string> implied;  // options a Volatility name stands for
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (arg.size() > 1 && arg[0] == '-') {
      if (with_values.count(arg)) ++i;
      continue;
    }
    command = &resolve_command(arg, implied, verbose);
    command_at = i;
    break;
  }

  po::options_description own(command ? "Options of " + command->name : "Options");
  if (command && command->add_options) command->add_options(own);
  po::options_description all;
  all.add(globals).add(own);
  std::vector<std::string> positional;
  all.add_options()("positional-args", po::value(&positional)->composing(), "");
  po::positional_options_description positional_spec;
  positional_spec.add("positional-args", -1);

  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i)
    if (i != command_at) rest.push_back(args[i]);
  rest.insert(rest.end(), implied.begin(), implied.end());
  po::variables_map vm;
  try {
    po::store(po::command_line_parser(rest).options(all).positional(positional_spec).run(), vm);
  } catch (const po::error& e) {
    throw usage_error(e, command, all);
  }
  if (vm.count("verbose") && vm["verbose"].as<bool>()) verbose = true;

  if (vm.count("version")) {
    std::cout << "memscope " << kVersion << "\n";
    return kExitOk;
  }
  if (!command) {
    if (vm.count("help")) {
      print_general_help(globals);
      return kExitOk;
    }
    if (!positional.empty()) resolve_command(positional.front(), implied, verbose);  // throws, naming it
    throw UsageError("no subcommand given: memscope --help lists them, memscope plugins the analyses");
  }
  if (vm.count("help")) {
    print_command_help(*command, own, globals);
    return kExitOk;
  }
  try {
    po::notify(vm);
  } catch (const po::error& e) {
    throw usage_error(e, command, all);
  }
  if (positional.size() > command->max_args) {
    const std::string& extra = positional[command->max_args];
    std::string message = "unexpected argument '" + extra + "' after " + command->name;
    if (find_command(extra) || find_volatility_name(extra))
      message += ": memscope runs one subcommand or plugin at a time (run memscope " + extra + " on its own)";
    else
      message += ": " + (command->usage.empty() ? command->name + " takes no arguments"
                                                : "usage: memscope " + command->usage);
    throw UsageError(message);
  }
  if (!global.files.empty()) global.file = global.files.front();
  if (global.files.size() > 1 && !command->many_images)
    throw UsageError(command->name + " analyses one image and -f was given " + std::to_string(global.files.size()) +
                     " times: run it once per image, or memscope report -f IMAGE -f IMAGE ...");
  global.output_given = vm.count("output") || vm.count("renderer");
  if (command->output_is_file) {
    if (vm.count("renderer")) throw UsageError(command->name + ": -o names the output file here; -r is not used");
    // A format name (profile info -o JSON) in its canonical spelling; a
    // file name as it is.
    if (vm.count("output")) {
      global.output = vm["output"].as<std::string>();
      if (auto format = memscope::find_output_format(global.output)) global.output = memscope::output_format_name(*format);
    }
  } else {
    global.output = output_format(vm, *command);
  }
  check_paths(global, *command, vm);

  // -q silences every progress bar (convert, scans, indexing a plain .lz4
  // file); warnings are still printed.
  memscope::Progress::set_quiet(global.quiet);
  // Ctrl-C stops a scan cleanly (its partial result marked incomplete); a
  // second Ctrl-C kills. Commands with their own handler (convert) replace it.
  memscope::install_interrupt_handler();
  CommandContext context{global, vm, positional};
  return command->run(context);
}

// -v before the command line is parsed: an error in parsing it is still
// told in full.
bool verbose_asked(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--") break;
    if (arg == "-v" || arg == "--verbose") return true;
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  bool verbose = verbose_asked(argc, argv);
  try {
    return run(argc, argv, verbose);
  } catch (const UsageError& e) {
    print_error(std::cerr, e.what(), "", verbose);
    return kExitUsage;
  } catch (const DetailedError& e) {
    print_error(std::cerr, e.what(), e.details(), verbose);
    return kExitFailed;
  } catch (const std::bad_alloc&) {
    print_error(std::cerr, "out of memory", "", verbose);
    return kExitFailed;
  } catch (const std::exception& e) {
    print_error(std::cerr, e.what(), "", verbose);
    return kExitFailed;
  }
}
