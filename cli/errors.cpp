#include "cli/errors.h"

#include <array>
#include <string_view>

namespace memscope::cli {
namespace {

constexpr std::string_view kPrefix = "memscope: ";
constexpr std::string_view kMore = " ... (-v: the whole message)";

std::string flat(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return text;
}

}  // namespace

std::string without_empty_reasons(std::string message) {
  static const std::array<std::string_view, 3> empty = {": no error", ": Success", ": (null)"};
  for (bool changed = true; changed;) {
    changed = false;
    for (std::string_view reason : empty)
      for (size_t at = message.find(reason); at != std::string::npos; at = message.find(reason, at)) {
        size_t end = at + reason.size();
        // Only a whole reason: followed by the end, a clause break or a
        // bracket, not "no errors found".
        if (end == message.size() || message[end] == ';' || message[end] == ')' || message[end] == ',' ||
            message[end] == '\n') {
          message.erase(at, reason.size());
          changed = true;
        } else {
          at = end;
        }
      }
  }
  return message;
}

std::string error_line(const std::string& message) {
  std::string line = flat(without_empty_reasons(message));
  if (kPrefix.size() + line.size() <= kMaxErrorLine) return line;
  const size_t budget = kMaxErrorLine - kPrefix.size() - kMore.size();
  // The last clause break that fits; a colon only if no semicolon does (the
  // first clauses say what is wrong, the later ones what was tried).
  size_t cut = std::string::npos;
  for (const char* separator : {"; ", ": ", ", ", " "}) {
    size_t at = line.rfind(separator, budget);
    if (at != std::string::npos && at > budget / 3) {
      cut = at;
      break;
    }
  }
  if (cut == std::string::npos) cut = budget;
  return line.substr(0, cut) + std::string(kMore);
}

void print_error(std::ostream& err, const std::string& message, const std::string& details, bool verbose) {
  std::string line = error_line(message);
  err << kPrefix << line << "\n";
  if (!verbose) return;
  std::string whole = flat(without_empty_reasons(message));
  if (whole != line) err << kPrefix << "details: " << whole << "\n";
  if (!details.empty()) err << kPrefix << "details: " << flat(details) << "\n";
}

}  // namespace memscope::cli
