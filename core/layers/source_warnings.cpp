#include "core/layers/source_warnings.h"

#include "core/util/printable.h"

namespace memscope {

std::vector<std::string> repeat_source_warnings(const std::string& path, std::string_view source_name,
                                                const std::vector<std::string>& texts, size_t more) {
  using Limits = SourceWarningLimits;
  std::vector<std::string> out;
  if (texts.empty() && more == 0) return out;
  const std::string name =
      source_name.empty() ? std::string("a source") : printable_text(source_name, Limits::kMaxNameBytes);
  const std::string prefix = path + ": converted from " + name + ", whose reader warned: ";
  size_t total = 0, repeated = 0;
  for (const std::string& text : texts) {
    if (repeated == Limits::kMaxWarnings) break;
    std::string shown = printable_text(text, Limits::kMaxTextBytes);
    if (total + shown.size() > Limits::kMaxTotalBytes) break;
    total += shown.size();
    out.push_back(prefix + shown);
    ++repeated;
  }
  if (repeated < texts.size() || more)
    out.push_back(path + ": " + std::to_string(texts.size() - repeated + more) + " more warnings of the source " + name +
                  " are recorded but not repeated (at most " + std::to_string(Limits::kMaxWarnings) +
                  " warnings and " + std::to_string(Limits::kMaxTotalBytes) + " bytes of their text are)");
  return out;
}

}  // namespace memscope
