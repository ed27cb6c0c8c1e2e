// --pid N that gave no row: when the kernel's PID table has a task for N
// that is not on the task list, the analyst is told so (a process hidden
// by unlinking it, which psscan and hidden_processes show) instead of
// being left to think there is no such process.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/plugin/table.h"

namespace memscope {
class Session;
}

namespace memscope::cli {

// The PIDs of `asked` that no row of `table` has in its "pid" column
// (nested rows included); none when the table has no such column.
std::vector<int64_t> pids_without_rows(const Table& table, const std::vector<int64_t>& asked);

// One warning for each of `pids` that the PID table of init_pid_ns holds
// with a task that is not on the task list (or its threads). Nothing when
// the PID table cannot be read: the plugin's own warning already said the
// PID is not on the task list.
std::vector<std::string> unlisted_pid_warnings(Session& session, const std::vector<int64_t>& pids);

}  // namespace memscope::cli
