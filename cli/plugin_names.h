// Plugin names as Volatility 3 spells them (`linux.pslist.PsList`,
// `linux.proc.Maps`, `linux.malware.hidden_modules`), mapped to memscope's
// subcommands. The table is in plugin_names.cpp, and docs/cli.md lists it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memscope::cli {

struct VolatilityName {
  // Volatility's module path and plugin class: "linux.proc.Maps". The
  // module path alone ("linux.proc") is accepted too, as Volatility does.
  std::string_view volatility;
  // What runs instead: a memscope subcommand ("linux.maps"), and the
  // options that make it do what the Volatility plugin does ("--kernel").
  std::string_view memscope;
  std::vector<std::string_view> options = {};
};

// Every Volatility 3 name that has a memscope equivalent (old and new
// module paths: linux.malfind and linux.malware.malfind).
const std::vector<VolatilityName>& volatility_names();

// The entry whose name `typed` is, ignoring case, given whole or without
// its class; nullopt for any other name.
const VolatilityName* find_volatility_name(std::string_view typed);

// The Volatility names (with their class) that map to `command`, without
// options added.
std::vector<std::string> volatility_names_of(std::string_view command);

}  // namespace memscope::cli
