// "Did you mean ...?" for names typed on the command line: subcommands,
// plugins (memscope's and Volatility's spellings), options.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memscope::cli {

// Edits (insert, delete, substitute, swap two neighbours) from `a` to `b`,
// ignoring case.
size_t edit_distance(std::string_view a, std::string_view b);

// The candidate closest to `typed`, if it is close enough to be what was
// meant: at most a third of the typed length in edits (at least 1, at most
// 3), or `typed` is a part of it after a dot ("pslist" for
// "linux.pslist"). Ties go to the first candidate.
std::optional<std::string> closest(std::string_view typed, const std::vector<std::string>& candidates);

}  // namespace memscope::cli
