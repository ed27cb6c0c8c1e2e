#include <algorithm>
#include <iostream>

#include "cli/command.h"
#include "core/util/error.h"
#include "core/util/printable.h"

namespace memscope::cli {
Registry<Command>& command_registry() {
  static Registry<Command> registry("command", [](const Command& c) -> std::string_view { return c.name; });
  return registry;
}

po::options_description global_options(GlobalOptions& global) {
  po::options_description options("Global options");
  options.add_options()
      ("file,f", po::value(&global.files)->value_name("IMAGE")->composing(), "memory image (any supported format)")
      ("profile,p", po::value(&global.profile)->value_name("FILE"),
       "kernel profile: an ISF file (.json, .json.xz, .json.gz)")
      ("symbols,s", po::value(&global.symbol_dirs)->value_name("DIR")->composing(),
       "folder of profiles matched to the image by banner (repeatable; "
       "~/.local/share/memscope/symbols is always searched)")
      ("plugin-dir", po::value(&global.plugin_dirs)->value_name("DIR")->composing(),
       "load the plugin libraries (*.so) of this folder (repeatable; "
       "~/.local/share/memscope/plugins is always searched)")
      ("btf", po::value(&global.btf)->value_name("FILE"),
       "the kernel's BTF (/sys/kernel/btf/vmlinux, or a vmlinux with .BTF): its types, instead of the image's")
      ("system-map", po::value(&global.system_map)->value_name("FILE"),
       "the kernel's System.map: its symbols, instead of the image's kallsyms")
      ("output,o", po::value<std::string>()->value_name("FORMAT"),
       "output format: text (default), json, jsonl, csv, none; any case")
      ("renderer,r", po::value<std::string>()->value_name("NAME"),
       "same as -o, with Volatility's names too: quick, pretty (text), json, jsonl, csv, none")
      ("wide", po::bool_switch(&global.wide), "text: never cut long cells to the terminal's width")
      ("quiet,q", po::bool_switch(&global.quiet), "no progress bars (warnings are always shown)")
      ("verbose,v", po::bool_switch(&global.verbose), "the details of an error (what was tried)")
      ("strict", po::bool_switch(&global.strict),
       "exit status 3 when the analysis ran but its results are incomplete (warnings)")
      ("max-list", po::value(&global.limits.max_list)->value_name("N"),
       ("entries one walk of a kernel list yields at most (default " + std::to_string(Limits{}.max_list) +
        "; docs/limits.md)").c_str())
      ("max-string", po::value(&global.limits.max_string)->value_name("N"),
       ("bytes of a string read through a pointer, at most (default " + std::to_string(Limits{}.max_string) +
        ")").c_str())
      ("max-object", po::value(&global.limits.max_object)->value_name("N"),
       ("bytes allocated for one object the image sizes, at most (default " + std::to_string(Limits{}.max_object) +
        ")").c_str())
      ("max-candidates", po::value(&global.limits.max_candidates)->value_name("N"),
       ("candidates a memory carve validates per scanned chunk, at most (default " +
        std::to_string(Limits{}.max_candidates) + ")").c_str())
      ("help,h", "show help (for a subcommand or plugin: memscope NAME --help)")
      ("version", "show the version");
  return options;
}

const std::string& require_image(const GlobalOptions& global) {
  if (global.file.empty()) throw UsageError("no image given: use -f/--file IMAGE");
  return global.file;
}

void print_warning(std::string_view warning) {
  std::cerr << "warning: " << printable_text(warning, kMaxShownTextBytes) << "\n";
}

int report_warnings(const GlobalOptions& global, const std::vector<std::string>& warnings) {
  for (const std::string& warning : warnings) print_warning(warning);
  return global.strict && !warnings.empty() ? kExitIncomplete : kExitOk;
}

}  // namespace memscope::cli
