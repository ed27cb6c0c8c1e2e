#include "cli/errors.h"

#include <array>
#include <optional>
#include <vector>
#include <string_view>

#include "core/util/printable.h"

namespace memscope::cli {
namespace {

constexpr std::string_view kPrefix = "memscope: ";
constexpr std::string_view kMore = " (-v: all of it)";

// One line that cannot drive the terminal: C0 controls (a newline in a
// library's message) as spaces, then C1 controls and bytes that are not
// UTF-8 (a path, text quoted from the image) as '.'.
std::string flat(std::string text) {
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
  return printable_text(text, kMaxShownTextBytes);
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

namespace {

// "what is wrong; how it was found; ...; what to do": the first and the last
// clause, and as many of the others as fit, in order.
std::optional<std::string> first_and_last_clauses(const std::string& line, size_t budget) {
  std::vector<std::string> clauses;
  for (size_t from = 0;;) {
    size_t at = line.find("; ", from);
    clauses.push_back(line.substr(from, at == std::string::npos ? std::string::npos : at - from));
    if (at == std::string::npos) break;
    from = at + 2;
  }
  if (clauses.size() < 2) return std::nullopt;
  const std::string& last = clauses.back();
  std::string out = clauses.front();
  const std::string gap = "; ...; ";
  if (out.size() + gap.size() + last.size() > budget) {
    // The first clause's head ("no kernel profile: no ISF in DIR ..."), up
    // to the last colon that leaves room for what to do.
    if (gap.size() + last.size() >= budget) return std::nullopt;
    size_t colon = out.rfind(": ", budget - gap.size() - last.size());
    if (colon == std::string::npos || colon == 0) return std::nullopt;
    return out.substr(0, colon) + ": ...; " + last;
  }
  for (size_t i = 1; i + 1 < clauses.size(); ++i) {
    if (out.size() + 2 + clauses[i].size() + gap.size() + last.size() > budget) break;
    out += "; " + clauses[i];
  }
  return out + gap + last;
}

}  // namespace

std::string error_line(const std::string& message) {
  std::string line = flat(without_empty_reasons(message));
  if (kPrefix.size() + line.size() <= kMaxErrorLine) return line;
  const size_t budget = kMaxErrorLine - kPrefix.size() - kMore.size();
  if (auto kept = first_and_last_clauses(line, budget)) return *kept + std::string(kMore);
  // The last clause break that fits; a colon only if no semicolon does (the
  // first clauses say what is wrong, the later ones what was tried).
  const size_t room = budget - 4;  // " ..."
  size_t cut = room;
  for (const char* separator : {"; ", ": ", ", ", " "}) {
    size_t at = line.rfind(separator, room);
    if (at != std::string::npos && at > room / 3) {
      cut = at;
      break;
    }
  }
  return line.substr(0, cut) + " ..." + std::string(kMore);
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
