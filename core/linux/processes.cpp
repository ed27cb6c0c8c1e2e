#include "core/linux/processes.h"

namespace memscope::linux_kernel {

bool PidFilter::matches(const std::optional<int64_t>& pid) {
  if (wanted_.empty()) return true;
  if (!pid || !wanted_.count(*pid)) return false;
  matched_.insert(*pid);
  return true;
}

void PidFilter::report_unmatched(Warnings& warnings, std::string_view where) const {
  std::string missing;
  for (int64_t pid : wanted_)
    if (!matched_.count(pid)) missing += (missing.empty() ? "" : ", ") + std::to_string(pid);
  if (missing.empty()) return;
  bool several = missing.find(',') != std::string::npos;
  warnings.add("--pid " + missing + ": no process with " + (several ? "these PIDs " : "this PID ") +
               std::string(where));
}

ProcessWalk::ProcessWalk(KernelView kernel, Warnings& warnings, PidFilter filter)
    : kernel_(std::move(kernel)), reader_(kernel_), warnings_(warnings), filter_(std::move(filter)) {}

void ProcessWalk::for_each(const std::function<void(const Task&)>& visit) {
  for (uint64_t leader : reader_.processes(warnings_)) {
    Task task = reader_.read(leader, warnings_);
    if (filter_.matches(task.pid)) visit(task);
  }
  filter_.report_unmatched(warnings_, "on the task list");
}

std::vector<Task> ProcessWalk::threads(const Task& leader) {
  std::vector<Task> out;
  for (uint64_t address : reader_.threads(leader.address, warnings_))
    out.push_back(address == leader.address ? leader : reader_.read(address, warnings_));
  return out;
}

size_t ProcessWalk::thread_count(const Task& leader) { return reader_.threads(leader.address, warnings_).size(); }

std::optional<ProcessMemory> ProcessWalk::memory(const Task& task) { return reader_.memory(task, warnings_); }

std::optional<std::vector<std::string>> ProcessWalk::arguments(const Task& task) {
  auto memory = reader_.memory(task, warnings_);
  if (!memory) return std::nullopt;
  return TaskReader::read_strings(*memory->space, memory->arg_start, memory->arg_end, task.label() + ": argv",
                                  warnings_);
}

std::optional<std::vector<std::string>> ProcessWalk::environment(const Task& task) {
  auto memory = reader_.memory(task, warnings_);
  if (!memory) return std::nullopt;
  return TaskReader::read_strings(*memory->space, memory->env_start, memory->env_end,
                                  task.label() + ": environment", warnings_);
}

}  // namespace memscope::linux_kernel
