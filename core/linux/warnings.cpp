#include "core/linux/warnings.h"

namespace memscope {

void Warnings::add(std::string message) {
  ++total_;
  auto [it, inserted] = index_.try_emplace(message, entries_.size());
  if (!inserted) {
    ++entries_[it->second].count;
    return;
  }
  entries_.push_back(Entry{std::move(message)});
}

void Warnings::add(std::string_view kind, std::string message) {
  auto at = kind_index_.find(kind);
  if (at == kind_index_.end()) {
    at = kind_index_.emplace(std::string(kind), kinds_.size()).first;
    kinds_.emplace_back(std::string(kind), Kind{});
  }
  Kind& counts = kinds_[at->second].second;
  if (counts.shown < kShownPerKind || index_.count(message)) {
    if (!index_.count(message)) ++counts.shown;
    add(std::move(message));
    return;
  }
  ++total_;
  ++counts.hidden;
}

std::vector<std::string> Warnings::lines() const {
  std::vector<std::string> out;
  out.reserve(entries_.size() + kinds_.size());
  for (const Entry& e : entries_)
    out.push_back(e.count == 1 ? e.message : e.message + " (" + std::to_string(e.count) + " times)");
  for (const auto& [kind, counts] : kinds_)
    if (counts.hidden > 0)
      out.push_back(kind + ": " + std::to_string(counts.hidden) + " more warnings like the " +
                    std::to_string(counts.shown) + " above, not shown");
  return out;
}

void ItemFailures::report(Warnings& warnings, std::string_view item_kind, const std::string& label) const {
  if (failures_.empty()) return;
  std::string kind = std::string(item_kind) + ": cannot read ";
  std::string message = label + ": cannot read ";
  for (size_t i = 0; i < failures_.size(); ++i) {
    const auto& [what, error] = failures_[i];
    kind += (i ? ", " : "") + what;
    message += (i ? "; " : "") + what + ": " + error;
  }
  warnings.add(kind, std::move(message));
}

}  // namespace memscope
