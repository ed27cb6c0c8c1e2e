// How an error reaches the analyst: one line on stderr, "memscope: " and
// what is wrong and what to do, at most kMaxErrorLine characters; the
// longer story (what discovery tried, the whole library message) only
// with -v.
#pragma once

#include <ostream>
#include <string>

namespace memscope::cli {

constexpr size_t kMaxErrorLine = 200;

// `message` without what libraries add when they have nothing to say
// (libelf's ": no error", strerror(0)'s ": Success").
std::string without_empty_reasons(std::string message);

// The line printed for `message`: control characters and line breaks made
// spaces; when longer than the limit, cut after the last clause that fits
// ("; " or ": ") and told where the rest is.
std::string error_line(const std::string& message);

// Prints the error line; with `verbose`, then the whole message (when it
// was cut) and `details`, each on its own "memscope: details: " line.
void print_error(std::ostream& err, const std::string& message, const std::string& details, bool verbose);

}  // namespace memscope::cli
