// `memscope completion bash|zsh` and the specification both scripts are
// written from.
#include "cli/completion/completion.h"

#include <iostream>

#include "cli/command.h"

namespace memscope::cli::completion {
namespace {

bool ends_with(const std::string& text, const std::string& tail) {
  return text.size() >= tail.size() && text.compare(text.size() - tail.size(), tail.size(), tail) == 0;
}

// What an option's value is, from its name: the conventions every
// subcommand and plugin follows (--dump-dir, --yara-file, -o FORMAT).
ValueKind value_kind(const std::string& name) {
  if (name == "output" || name == "renderer") return ValueKind::Format;
  if (name == "symbols" || ends_with(name, "dir")) return ValueKind::Folder;
  if (name == "file" || name == "profile" || name == "btf" || name == "system-map" || name == "from-image" ||
      ends_with(name, "-file"))
    return ValueKind::File;
  return ValueKind::Word;
}

std::vector<Option> options_of(const po::options_description& description) {
  std::vector<Option> out;
  for (const auto& o : description.options()) {
    if (o->long_name() == "positional-args") continue;
    Option option;
    std::string short_name = o->canonical_display_name(po::command_line_style::allow_dash_for_short);
    if (short_name.size() == 2 && short_name[0] == '-') option.spellings.push_back(short_name);
    if (!o->long_name().empty()) option.spellings.push_back("--" + o->long_name());
    option.description = o->description();
    option.takes_value = o->semantic()->max_tokens() > 0;
    option.repeatable = o->semantic()->max_tokens() > 1 || o->semantic()->is_composing();
    option.value = option.takes_value ? value_kind(o->long_name()) : ValueKind::None;
    out.push_back(std::move(option));
  }
  return out;
}

int run_completion(const CommandContext& ctx) {
  const std::string shell = ctx.args.empty() ? "" : ctx.args[0];
  if (shell == "bash") {
    std::cout << bash_script(current_spec());
  } else if (shell == "zsh") {
    std::cout << zsh_script(current_spec());
  } else {
    throw UsageError("completion: which shell? memscope completion bash, or memscope completion zsh");
  }
  return 0;
}

MEMSCOPE_REGISTER(command_registry(), Command{
    .name = "completion",
    .summary = "print the shell completion script: `completion bash`, `completion zsh`",
    .usage = "completion bash|zsh",
    .add_options = {},
    .run = run_completion,
    .max_args = 1,
    .actions = {"bash", "zsh"},
    .outputs = {"text"},
    .uses_image = false,
});

}  // namespace

Spec current_spec() {
  Spec spec;
  GlobalOptions global;
  spec.globals = options_of(global_options(global));
  for (const Command& command : commands()) {
    CommandSpec c;
    c.name = command.name;
    c.summary = command.summary;
    po::options_description own;
    if (command.add_options) command.add_options(own);
    c.options = options_of(own);
    c.actions = command.actions;
    c.takes_files = command.max_args > 0;
    spec.commands.push_back(std::move(c));
  }
  spec.formats = {"text", "json", "jsonl", "csv", "none"};
  return spec;
}

}  // namespace memscope::cli::completion
