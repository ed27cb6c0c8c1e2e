#include "core/linux/task_views.h"

#include <algorithm>
#include <deque>
#include <map>
#include <tuple>
#include <unordered_set>

#include "core/linux/list.h"
#include "core/linux/percpu.h"
#include "core/linux/pid.h"
#include "core/linux/rbtree.h"
#include "core/linux/tasks.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// Task groups nest (cgroup depth); the kernel's limit is far below this.
constexpr unsigned kMaxGroupDepth = 32;
// Tasks one walk of children lists visits at most (PID_MAX_LIMIT).
constexpr size_t kMaxTasks = 4u << 20;

}  // namespace

bool task_hidden(unsigned views, std::optional<int64_t> tid) {
  if (views & kTaskInList) return false;
  if (tid && *tid == 0) return false;  // a CPU's idle task (swapper/N)
  return (views & (kTaskInPidTable | kTaskOnRunqueue | kTaskInChildren)) != 0;
}

bool task_exited(unsigned views, bool dead) { return views == kTaskCarved && dead; }

TaskViews::TaskViews(const KernelView& kernel) : kernel_(kernel) {}

std::vector<uint64_t> TaskViews::task_list(Warnings& warnings) const {
  TaskReader reader(kernel_);
  std::vector<uint64_t> out{kernel_.symbol_address("init_task")};
  for (uint64_t leader : reader.processes(warnings))
    for (uint64_t task : reader.threads(leader, warnings)) out.push_back(task);
  return out;
}

std::vector<uint64_t> TaskViews::pid_table(Warnings& warnings) const {
  std::vector<uint64_t> out;
  try {
    PidTable table(kernel_);
    for (const PidTableEntry& e : table.entries(warnings))
      if (e.task) out.push_back(e.task);
  } catch (const Error& e) {
    warnings.add("psscan: the PID table is not used: " + std::string(e.what()));
  }
  return out;
}

std::vector<uint64_t> TaskViews::runqueues(Warnings& warnings) const {
  std::vector<uint64_t> out;
  const Profile& profile = kernel_.profile();
  if (!profile.find_symbol("runqueues") || !profile.find_type("rq")) {
    warnings.add("psscan: no per-CPU runqueues (symbol runqueues, struct rq) in the profile: runqueues are not used");
    return out;
  }
  try {
    PerCpu percpu(kernel_, warnings);
    const uint64_t se_offset = profile.offset_of("task_struct", "se");
    const bool groups = profile.has_member("sched_entity", "my_q");
    for (unsigned cpu : percpu.cpus()) {
      Object rq = percpu.object("runqueues", "rq", cpu);
      const std::string where = "runqueue of CPU " + std::to_string(cpu) + " (" + hex_address(rq.address()) + ")";
      ItemFailures failed;
      failed.attempt("curr", [&] { out.push_back(rq["curr"].pointer()); });
      failed.attempt("idle", [&] { out.push_back(rq["idle"].pointer()); });
      failed.report(warnings, "runqueue", where);
      // CFS: the tree of each cfs_rq, group entities leading to their own.
      std::unordered_set<uint64_t> seen_queues;
      std::deque<std::pair<Object, unsigned>> queues{{rq["cfs"], 0}};
      while (!queues.empty()) {
        auto [cfs, depth] = queues.front();
        queues.pop_front();
        if (!seen_queues.insert(cfs.address()).second) continue;
        for (const Object& se :
             rbtree_entries(cfs["tasks_timeline"], "sched_entity", "run_node", "CFS tree of " + where, warnings)) {
          uint64_t group = 0;
          if (groups) {
            try {
              group = se["my_q"].pointer();
            } catch (const Error& e) {
              warnings.add("psscan: " + where + ": sched_entity " + hex_address(se.address()) + ": " + e.what());
              continue;
            }
          }
          if (group == 0) {
            out.push_back(se.address() - se_offset);
          } else if (depth + 1 < kMaxGroupDepth) {
            queues.push_back({kernel_.object("cfs_rq", group), depth + 1});
          } else {
            warnings.add("psscan: " + where + ": task groups nested deeper than " + std::to_string(kMaxGroupDepth));
          }
        }
      }
      // Real-time queues: one list per priority.
      if (rq.has_member("rt") && profile.has_member("rt_rq", "active") && profile.has_member("task_struct", "rt")) {
        const uint64_t rt_offset = profile.offset_of("task_struct", "rt");
        Object queue = rq["rt"]["active"]["queue"];
        for (uint64_t prio = 0; prio < queue.count(); ++prio)
          for (const Object& rt :
               list_entries_recovering(queue.at(prio), "sched_rt_entity", "run_list",
                                       "RT queue " + std::to_string(prio) + " of " + where, warnings))
            out.push_back(rt.address() - rt_offset);
      }
      // Deadline tasks: an rbtree.
      if (rq.has_member("dl") && profile.has_member("dl_rq", "root") && profile.has_member("task_struct", "dl")) {
        const uint64_t dl_offset = profile.offset_of("task_struct", "dl");
        for (const Object& dl :
             rbtree_entries(rq["dl"]["root"], "sched_dl_entity", "rb_node", "deadline tree of " + where, warnings))
          out.push_back(dl.address() - dl_offset);
      }
    }
  } catch (const Error& e) {
    warnings.add("psscan: the runqueues are not used: " + std::string(e.what()));
  }
  std::erase(out, 0);
  return out;
}

std::vector<uint64_t> TaskViews::children(const std::vector<uint64_t>& known, Warnings& warnings) const {
  std::vector<uint64_t> out;
  std::unordered_set<uint64_t> visited;
  std::deque<uint64_t> queue(known.begin(), known.end());
  while (!queue.empty()) {
    const uint64_t parent = queue.front();
    queue.pop_front();
    if (!visited.insert(parent).second) continue;
    if (visited.size() > kMaxTasks) {
      warnings.add("psscan: more than " + std::to_string(kMaxTasks) + " tasks on children lists; stopped");
      break;
    }
    try {
      Object head = kernel_.object("task_struct", parent)["children"];
      for (const Object& child : list_entries_recovering(head, "task_struct", "sibling",
                                                         "children of task " + hex_address(parent), warnings)) {
        out.push_back(child.address());
        queue.push_back(child.address());
      }
    } catch (const Error& e) {
      warnings.add("psscan: children of task " + hex_address(parent) + ": " + e.what());
    }
  }
  return out;
}

std::optional<uint64_t> TaskViews::direct_map(const std::vector<TaskSighting>& known, Warnings& warnings) const {
  if (kernel_.profile().find_symbol("page_offset_base")) {
    uint64_t base = 0;
    if (kernel_.kernel().read(kernel_.symbol_address("page_offset_base"), &base, 8).ok() && base != 0 &&
        kernel_.kernel().is_canonical(base))
      return base;
  }
  // The most common difference between a task's virtual and physical
  // address: tasks live in the direct map (init_task, in the kernel image,
  // is the odd one out).
  std::map<uint64_t, size_t> votes;
  for (const TaskSighting& s : known)
    if (s.physical) ++votes[s.address - *s.physical];
  if (votes.empty()) {
    warnings.add("psscan: where the kernel maps physical memory is unknown (no page_offset_base, no task translates)");
    return std::nullopt;
  }
  return std::max_element(votes.begin(), votes.end(), [](const auto& a, const auto& b) { return a.second < b.second; })
      ->first;
}

TaskViews::Census TaskViews::all(Warnings& warnings, const TaskViewOptions& options) const {
  std::map<uint64_t, TaskSighting> by_address;
  auto see = [&](uint64_t address, unsigned view) {
    TaskSighting& s = by_address[address];
    s.address = address;
    s.views |= view;
  };
  for (uint64_t t : task_list(warnings)) see(t, kTaskInList);
  for (uint64_t t : pid_table(warnings)) see(t, kTaskInPidTable);
  for (uint64_t t : runqueues(warnings)) see(t, kTaskOnRunqueue);
  std::vector<uint64_t> known;
  for (const auto& [address, s] : by_address) known.push_back(address);
  for (uint64_t t : children(known, warnings)) see(t, kTaskInChildren);

  std::vector<TaskSighting> tasks;
  std::map<uint64_t, size_t> by_physical;
  for (auto& [address, s] : by_address) {
    if (auto t = kernel_.kernel().translate(address)) s.physical = t->physical;
    tasks.push_back(s);
  }
  for (size_t i = 0; i < tasks.size(); ++i)
    if (tasks[i].physical) by_physical[*tasks[i].physical] = i;

  Census census;
  if (options.carve) {
    if (auto base = direct_map(tasks, warnings)) {
      try {
        TaskCarver carver(kernel_);
        AddressSpace* physical = kernel_.kernel().below();
        census.carve = carver.carve(*physical, *base, warnings, options.carve_options);
        for (const CarvedTask& c : census.carve->tasks) {
          auto it = by_physical.find(c.physical);
          if (it != by_physical.end()) {
            tasks[it->second].views |= kTaskCarved;
            tasks[it->second].dead = c.dead;
          } else {
            tasks.push_back({c.address, c.physical, kTaskCarved, c.dead});
          }
        }
      } catch (const Error& e) {
        warnings.add("psscan: the carve of physical memory is not used: " + std::string(e.what()));
      }
    } else {
      warnings.add("psscan: physical memory is not carved");
    }
  }
  census.tasks = std::move(tasks);
  return census;
}

std::vector<ScannedTask> scan_tasks(const KernelView& kernel, Warnings& warnings, const TaskViewOptions& options,
                                    std::optional<CarveResult>* carve) {
  TaskViews views(kernel);
  TaskViews::Census census = views.all(warnings, options);
  if (carve) *carve = std::move(census.carve);
  TaskReader reader(kernel);
  std::vector<ScannedTask> out;
  out.reserve(census.tasks.size());
  for (const TaskSighting& s : census.tasks) {
    ScannedTask t;
    t.task = reader.read(s.address, warnings);
    t.views = s.views;
    t.hidden = task_hidden(s.views, t.task.tid);
    t.exited = task_exited(s.views, s.dead);
    if (s.views == kTaskCarved && !s.dead)
      warnings.add("psscan: " + t.task.label() + " is found only by the carve of physical memory, yet its state (" +
                   t.task.state.value_or("?") +
                   ") is not an exited task's: unlinked from every view of the kernel (task list, PID table, "
                   "runqueues, children lists), or freed without exiting");
    out.push_back(std::move(t));
  }
  auto key = [](const ScannedTask& t) {
    return std::tuple(!t.task.pid.has_value(), t.task.pid.value_or(0), t.task.tid.value_or(0), t.task.address);
  };
  std::sort(out.begin(), out.end(), [&](const ScannedTask& a, const ScannedTask& b) { return key(a) < key(b); });
  return out;
}

}  // namespace memscope::linux_kernel
