// kvm_getprocs, kvm_getargv, kvm_getenvv: FreeBSD's process calls over
// the task walkers the plugins use (core/linux/tasks.h), with the storage
// owned by the kvm_t as libkvm specifies.
#include <algorithm>
#include <climits>
#include <cstring>
#include <string>
#include <vector>

#include "core/kvm/kvm_handle.h"
#include "core/linux/tasks.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace {

using memscope::kvm::fail;
using memscope::linux_kernel::Task;
using memscope::linux_kernel::TaskReader;

// The session's kernel view, or an error message naming what is missing.
bool ready(kvm_t* kd, const char* call) {
  if (!kd->session->has_profile()) {
    fail(kd, std::string(call) + ": no kernel profile (give one as execfile)");
    return false;
  }
  if (!kd->session->has_kernel()) {
    fail(kd, std::string(call) + ": the kernel was not found in the image");
    return false;
  }
  return true;
}

// task_struct.flags as it is (Task keeps only PF_KTHREAD of it); 0 when unreadable.
unsigned int task_flags(const memscope::linux_kernel::KernelView& view, uint64_t task) {
  try {
    return static_cast<unsigned int>(view.object("task_struct", task)["flags"].as_u64());
  } catch (const memscope::Error&) {
    return 0;
  }
}

struct kinfo_proc to_kinfo(const Task& task, int threads, unsigned int flags) {
  struct kinfo_proc out;
  std::memset(&out, 0, sizeof out);
  out.ki_structsize = static_cast<int>(sizeof out);
  out.ki_pid = static_cast<pid_t>(task.pid.value_or(0));
  out.ki_ppid = static_cast<pid_t>(task.ppid.value_or(0));
  out.ki_tid = static_cast<pid_t>(task.tid.value_or(0));
  if (task.creds) {
    out.ki_ruid = task.creds->uid;
    out.ki_uid = task.creds->euid;
    out.ki_rgid = task.creds->gid;
    out.ki_gid = task.creds->egid;
  }
  if (task.state && !task.state->empty()) out.ki_stat = (*task.state)[0];
  if (task.comm) std::strncpy(out.ki_comm, task.comm->c_str(), KI_COMM_SIZE - 1);
  out.ki_numthreads = threads;
  out.ki_flag = flags;
  out.ki_start = task.start_time.value_or(0);
  out.ki_paddr = task.address;
  out.ki_mm = task.mm;
  return out;
}

// Fills `out` with `strings`, at most nchr bytes (NULs included; 0: no
// limit): the string that would pass the limit is cut and is the last.
char** store(KvmStringVector& out, const std::vector<std::string>& strings, int nchr) {
  std::vector<std::string_view> kept;
  size_t budget = nchr > 0 ? static_cast<size_t>(nchr) : SIZE_MAX;
  size_t bytes = 0;
  for (const std::string& s : strings) {
    if (budget == 0) break;
    if (s.size() + 1 > budget) {
      kept.emplace_back(s.data(), budget - 1);
      bytes += budget;
      budget = 0;
      break;
    }
    kept.emplace_back(s);
    bytes += s.size() + 1;
    if (budget != SIZE_MAX) budget -= s.size() + 1;
  }
  out.bytes.assign(bytes, '\0');
  out.pointers.clear();
  char* at = out.bytes.data();
  for (std::string_view s : kept) {
    std::memcpy(at, s.data(), s.size());
    out.pointers.push_back(at);
    at += s.size() + 1;
  }
  out.pointers.push_back(nullptr);
  return out.pointers.data();
}

// The argument (or environment) strings of the process `p` names.
char** strings_of(kvm_t* kd, const struct kinfo_proc* p, int nchr, bool environment, KvmStringVector& out) {
  const char* call = environment ? "kvm_getenvv" : "kvm_getargv";
  if (!kd) return nullptr;
  if (!p) {
    fail(kd, std::string(call) + ": no process given");
    return nullptr;
  }
  if (nchr < 0) {
    fail(kd, std::string(call) + ": nchr " + std::to_string(nchr) + " is negative");
    return nullptr;
  }
  try {
    if (!ready(kd, call)) return nullptr;
    memscope::linux_kernel::KernelView view = memscope::linux_kernel::kernel_view(*kd->session);
    TaskReader reader(view);
    memscope::Warnings warnings;
    // The caller's record may be a copy, or stale: the task at ki_paddr
    // must still be that process.
    Task task = reader.read(p->ki_paddr, warnings);
    if (!task.pid || *task.pid != p->ki_pid) {
      fail(kd, std::string(call) + ": the task at " + memscope::hex_address(p->ki_paddr) + " is not process " +
                   std::to_string(p->ki_pid) + (warnings.empty() ? "" : ": " + warnings.lines().front()));
      return nullptr;
    }
    std::optional<memscope::linux_kernel::ProcessMemory> memory = reader.memory(task, warnings);
    if (!memory) {
      fail(kd, std::string(call) + ": process " + std::to_string(p->ki_pid) + " has no user memory" +
                   (warnings.empty() ? " (a kernel thread or a zombie)" : ": " + warnings.lines().front()));
      return nullptr;
    }
    uint64_t start = environment ? memory->env_start : memory->arg_start;
    uint64_t end = environment ? memory->env_end : memory->arg_end;
    std::vector<std::string> strings = TaskReader::read_strings(
        *memory->space, start, end, environment ? "environment" : "arguments", warnings);
    if (environment) {
      // Padding after the last variable is not a variable.
      strings.erase(std::remove(strings.begin(), strings.end(), std::string()), strings.end());
    }
    if (!warnings.empty()) kd->error = std::string(call) + ": " + warnings.lines().front();
    return store(out, strings, nchr);
  } catch (const std::exception& e) {
    fail(kd, std::string(call) + ": " + e.what());
    return nullptr;
  }
}

}  // namespace

extern "C" {

struct kinfo_proc* kvm_getprocs(kvm_t* kd, int op, int arg, int* cnt) {
  if (cnt) *cnt = 0;
  if (!kd) return nullptr;
  if (!cnt) {
    fail(kd, "kvm_getprocs: cnt is NULL");
    return nullptr;
  }
  const int base = op & ~KERN_PROC_INC_THREAD;
  const bool with_threads = base == KERN_PROC_ALL || (op & KERN_PROC_INC_THREAD);
  if (base != KERN_PROC_ALL && base != KERN_PROC_PROC && base != KERN_PROC_PID && base != KERN_PROC_UID &&
      base != KERN_PROC_RUID) {
    fail(kd, "kvm_getprocs: op " + std::to_string(op) +
                 " is not supported (KERN_PROC_ALL, _PROC, _PID, _UID, _RUID, with KERN_PROC_INC_THREAD)");
    return nullptr;
  }
  try {
    if (!ready(kd, "kvm_getprocs")) return nullptr;
    memscope::linux_kernel::KernelView view = memscope::linux_kernel::kernel_view(*kd->session);
    TaskReader reader(view);
    memscope::Warnings warnings;
    std::vector<struct kinfo_proc> out;
    for (uint64_t leader : reader.processes(warnings)) {
      Task task = reader.read(leader, warnings);
      bool selected = true;
      switch (base) {
        case KERN_PROC_PID: selected = task.pid && *task.pid == arg; break;
        case KERN_PROC_UID: selected = task.creds && task.creds->euid == static_cast<uint32_t>(arg); break;
        case KERN_PROC_RUID: selected = task.creds && task.creds->uid == static_cast<uint32_t>(arg); break;
        default: break;
      }
      if (!selected) continue;
      std::vector<uint64_t> threads = reader.threads(leader, warnings);
      const int count = static_cast<int>(std::min<size_t>(threads.size(), INT_MAX));
      out.push_back(to_kinfo(task, count, task_flags(view, leader)));
      if (!with_threads) continue;
      for (uint64_t thread : threads)
        if (thread != leader) out.push_back(to_kinfo(reader.read(thread, warnings), count, task_flags(view, thread)));
    }
    if (out.size() > static_cast<size_t>(INT_MAX)) out.resize(INT_MAX);
    kd->procs = std::move(out);
    // What could not be read is 0 in the records; the first problem is
    // kept for kvm_geterr.
    kd->error = warnings.empty() ? "" : "kvm_getprocs: " + warnings.lines().front();
    *cnt = static_cast<int>(kd->procs.size());
    // An empty selection is a valid answer: a non-NULL pointer, *cnt 0.
    if (kd->procs.empty()) kd->procs.reserve(1);
    return kd->procs.data();
  } catch (const std::exception& e) {
    fail(kd, std::string("kvm_getprocs: ") + e.what());
    return nullptr;
  }
}

char** kvm_getargv(kvm_t* kd, const struct kinfo_proc* p, int nchr) {
  return kd ? strings_of(kd, p, nchr, false, kd->argv) : nullptr;
}

char** kvm_getenvv(kvm_t* kd, const struct kinfo_proc* p, int nchr) {
  return kd ? strings_of(kd, p, nchr, true, kd->envv) : nullptr;
}

}  // extern "C"
