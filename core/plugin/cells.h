// Small helpers shared by the Linux plugins: table cells from values that
// may be unknown, and the --pid filter.
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "core/plugin/table.h"

namespace memscope::linux_kernel {

template <typename T>
Value cell(const std::optional<T>& value) {
  if (!value) return std::monostate{};
  if constexpr (std::is_same_v<T, bool>)
    return *value;
  else if constexpr (std::is_same_v<T, std::string> || std::is_same_v<T, std::vector<std::string>>)
    return *value;
  else if constexpr (std::is_signed_v<T>)
    return static_cast<int64_t>(*value);
  else
    return static_cast<uint64_t>(*value);
}

inline Value address_cell(uint64_t address) { return Address{address}; }

// The --pid values; empty: no filter.
inline std::set<int64_t> pid_filter(const PluginArgs& args) {
  std::vector<int64_t> pids = args.ints("pid");
  return {pids.begin(), pids.end()};
}

inline bool selected(const std::set<int64_t>& filter, const std::optional<int64_t>& pid) {
  return filter.empty() || (pid && filter.count(*pid));
}

inline PluginOption pid_option() {
  return PluginOption{"pid", PluginOption::Kind::Int, "only the process with this PID (repeatable)", true};
}

}  // namespace memscope::linux_kernel
