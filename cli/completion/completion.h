// Shell completion for bash and zsh, generated from the registries: every
// subcommand and plugin with its own options, the global options, the
// output formats. `memscope completion bash|zsh` prints a script; the
// build writes both and `cmake --install` puts them where bash-completion
// and zsh look (CMakeLists.txt).
#pragma once

#include <string>
#include <vector>

namespace memscope::cli::completion {

// What a value is completed with.
enum class ValueKind { None, Word, File, Folder, Format };

struct Option {
  std::vector<std::string> spellings;  // "-f", "--file"
  std::string description;
  bool takes_value = false;
  bool repeatable = false;
  ValueKind value = ValueKind::None;
};

struct CommandSpec {
  std::string name;
  std::string summary;
  std::vector<Option> options;
  std::vector<std::string> actions;  // what the first argument may be (profile info|generate)
  bool takes_files = false;          // (other) positional arguments are files (convert IN OUT)
};

struct Spec {
  std::vector<Option> globals;
  std::vector<CommandSpec> commands;
  std::vector<std::string> formats;  // what -o completes to
};

// Everything registered in this build of memscope.
Spec current_spec();

std::string bash_script(const Spec& spec);
std::string zsh_script(const Spec& spec);

}  // namespace memscope::cli::completion
