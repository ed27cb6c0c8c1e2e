#include "cli/unlisted_pids.h"

#include <set>

#include "core/linux/pid.h"
#include "core/linux/task_views.h"
#include "core/session/session.h"
#include "core/util/hex.h"

namespace memscope::cli {
namespace {

void collect(const Row& row, size_t column, std::set<int64_t>& pids) {
  if (column < row.cells.size()) {
    if (const auto* value = std::get_if<int64_t>(&row.cells[column])) pids.insert(*value);
    if (const auto* value = std::get_if<uint64_t>(&row.cells[column])) pids.insert(static_cast<int64_t>(*value));
  }
  for (const Row& child : row.children) collect(child, column, pids);
}

}  // namespace

std::vector<int64_t> pids_without_rows(const Table& table, const std::vector<int64_t>& asked) {
  size_t column = table.columns.size();
  for (size_t c = 0; c < table.columns.size(); ++c)
    if (table.columns[c].key == "pid") column = c;
  if (column == table.columns.size() || asked.empty()) return {};
  std::set<int64_t> seen;
  for (const Row& row : table.rows) collect(row, column, seen);
  std::set<int64_t> missing;
  for (int64_t pid : asked)
    if (!seen.count(pid)) missing.insert(pid);
  return {missing.begin(), missing.end()};
}

std::vector<std::string> unlisted_pid_warnings(Session& session, const std::vector<int64_t>& pids) {
  if (pids.empty()) return {};
  std::vector<std::string> out;
  try {
    linux_kernel::KernelView kernel = linux_kernel::kernel_view(session);
    linux_kernel::PidTable table(kernel);
    Warnings ignored;  // the table's own trouble is not this hint's to report
    std::set<int64_t> wanted(pids.begin(), pids.end());
    std::vector<linux_kernel::PidTableEntry> found;
    for (const linux_kernel::PidTableEntry& entry : table.entries(ignored))
      if (entry.task != 0 && wanted.count(entry.nr)) found.push_back(entry);
    if (found.empty()) return {};
    std::vector<uint64_t> listed_tasks = linux_kernel::TaskViews(kernel).task_list(ignored);
    std::set<uint64_t> listed(listed_tasks.begin(), listed_tasks.end());
    for (const linux_kernel::PidTableEntry& entry : found) {
      if (listed.count(entry.task)) continue;
      std::string pid = std::to_string(entry.nr);
      out.push_back("--pid " + pid + ": not on the task list, but the kernel's PID table (" + table.source() +
                    ") has it, task_struct at " + hex_address(entry.task) +
                    ": a hidden process? memscope linux.hidden_processes --pid " + pid + " shows it");
    }
  } catch (const std::exception&) {
    // A profile without the PID table's types, an unreadable table: no hint.
  }
  return out;
}

}  // namespace memscope::cli
