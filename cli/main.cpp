// The `memscope` command: global options, then a subcommand dispatched by
// name. Global options are accepted before or after the subcommand name
// (`memscope -f IMG -o json info` == `memscope info -f IMG -o json`), as
// Volatility 3 users type them. Every error is one line on stderr and a
// non-zero exit status.
#include <iostream>
#include <set>
#include <string>
#include <vector>

#include "cli/command.h"
#include "core/scan/cancel.h"
#include "core/util/error.h"
#include "core/util/progress.h"

namespace po = boost::program_options;
using memscope::cli::Command;
using memscope::cli::GlobalOptions;

namespace {

const char* const kVersion = MEMSCOPE_VERSION;

po::options_description global_options(GlobalOptions& global) {
  po::options_description options("Global options");
  options.add_options()
      ("file,f", po::value(&global.file)->value_name("IMAGE"), "memory image (any supported format)")
      ("profile,p", po::value(&global.profile)->value_name("FILE"), "kernel profile (ISF .json/.json.xz/.json.gz)")
      ("symbols,s", po::value(&global.symbol_dirs)->value_name("DIR")->composing(),
       "folder of profiles matched to the image by banner (repeatable)")
      ("btf", po::value(&global.btf)->value_name("FILE"),
       "the kernel's BTF (/sys/kernel/btf/vmlinux, or a vmlinux with .BTF): its types, instead of the image's")
      ("system-map", po::value(&global.system_map)->value_name("FILE"),
       "the kernel's System.map: its symbols, instead of the image's kallsyms")
      ("output,o", po::value(&global.output)->value_name("FORMAT")->default_value("text"),
       "output format: text, json, jsonl, csv")
      ("quiet,q", po::bool_switch(&global.quiet), "no progress or informational messages")
      ("help,h", "show help (for a subcommand: memscope SUBCOMMAND --help)")
      ("version", "show the version");
  return options;
}

// Global options that take a value, so their value is not mistaken for the
// subcommand's name while scanning for it.
bool takes_value(const std::string& arg) {
  static const std::set<std::string> with_value = {"-f", "--file", "-p", "--profile", "-s", "--symbols",
                                                   "-o", "--output", "--btf", "--system-map"};
  return with_value.count(arg) > 0;
}

const Command* find_command(const std::string& name) {
  for (const Command& c : memscope::cli::commands())
    if (c.name == name) return &c;
  return nullptr;
}

void print_general_help(const po::options_description& globals) {
  std::cout << "memscope " << kVersion << ": forensic analysis of memory images\n\n"
            << "Usage: memscope [global options] SUBCOMMAND [options] [arguments]\n\n"
            << "Subcommands:\n";
  size_t width = 0;
  for (const Command& c : memscope::cli::commands()) width = std::max(width, c.name.size());
  for (const Command& c : memscope::cli::commands())
    std::cout << "  " << c.name << std::string(width - c.name.size() + 2, ' ') << c.summary << "\n";
  std::cout << "\n" << globals << "\nExample: memscope -f image.lime linux.pslist -o json\n";
}

void print_command_help(const Command& command, const po::options_description& own,
                        const po::options_description& globals) {
  std::cout << "Usage: memscope " << (command.usage.empty() ? command.name + " [options]" : command.usage)
            << "\n\n" << command.summary << "\n";
  if (!own.options().empty()) std::cout << "\n" << own;
  std::cout << "\n" << globals;
}

int run(int argc, char** argv) {
  memscope::cli::register_plugin_commands();
  std::vector<std::string> args(argv + 1, argv + argc);

  // Find the subcommand: the first argument that is neither an option nor
  // the value of a global option.
  const Command* command = nullptr;
  size_t command_at = args.size();
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") break;
    if (!arg.empty() && arg[0] == '-') {
      if (takes_value(arg)) ++i;
      continue;
    }
    command = find_command(arg);
    if (!command) throw memscope::Error("unknown subcommand '" + arg + "' (memscope --help lists them)");
    command_at = i;
    break;
  }

  GlobalOptions global;
  po::options_description globals = global_options(global);
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
  po::variables_map vm;
  po::store(po::command_line_parser(rest).options(all).positional(positional_spec).run(), vm);

  if (vm.count("version")) {
    std::cout << "memscope " << kVersion << "\n";
    return 0;
  }
  if (!command) {
    print_general_help(globals);
    return vm.count("help") ? 0 : 2;
  }
  if (vm.count("help")) {
    print_command_help(*command, own, globals);
    return 0;
  }
  po::notify(vm);
  static const std::set<std::string> outputs = {"text", "json", "jsonl", "csv"};
  if (!command->output_is_file && !outputs.count(global.output))
    throw memscope::Error("unknown output format '" + global.output + "' (text, json, jsonl or csv)");
  // -q silences every progress bar (convert, indexing a plain .lz4 file).
  memscope::Progress::set_quiet(global.quiet);
  // Ctrl-C stops a scan cleanly (its partial result marked incomplete); a
  // second Ctrl-C kills. Commands with their own handler (convert) replace it.
  memscope::install_interrupt_handler();
  memscope::cli::CommandContext context{global, vm, positional};
  return command->run(context);
}

}  // namespace

int main(int argc, char** argv) {
  try {
    return run(argc, argv);
  } catch (const po::error& e) {
    std::cerr << "memscope: " << e.what() << "\n";
    return 2;
  } catch (const std::bad_alloc&) {
    std::cerr << "memscope: out of memory\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "memscope: " << e.what() << "\n";
    return 1;
  }
}
