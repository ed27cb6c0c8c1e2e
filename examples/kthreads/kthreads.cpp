// linux.kthreads: the kernel threads and the function each one runs.
//
// A plugin built outside memscope's tree, against the installed package,
// and loaded by `memscope --plugin-dir DIR`: docs/plugin-authors.md builds
// it step by step.
//
// What the kernel keeps (kernel/kthread.c): every task started by
// kthread_create() has a `struct kthread` whose `threadfn` is the function
// it runs and `data` its argument; kthreadd starts them all through
// kthread(), so the task's own saved registers only ever say "kthread".
// The task finds its struct kthread through `task_struct.worker_private`
// since 5.17, through `set_child_tid` (cast) before. Both are asked of the
// profile, never assumed.
#include <optional>
#include <string>

#include "core/linux/processes.h"
#include "core/plugin/plugin_library.h"
#include "core/session/session.h"
#include "core/util/hex.h"

namespace kthreads {

using namespace memscope;
using namespace memscope::linux_kernel;

struct KthreadRow {
  Address offset{};
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  std::optional<Address> kthread{};
  std::optional<Address> threadfn{};
  std::optional<std::string> function{};
  std::optional<Address> data{};
  std::optional<std::string> full_name{};
};

const RowSchema<KthreadRow> kKthreadColumns{
    {"offset", &KthreadRow::offset, "address of the task_struct"},
    {"pid", &KthreadRow::pid, "process ID"},
    {"comm", &KthreadRow::comm, "command name (at most 15 characters)"},
    {"kthread", &KthreadRow::kthread, "address of its struct kthread"},
    {"threadfn", &KthreadRow::threadfn, "the function it runs (struct kthread.threadfn)"},
    {"function", &KthreadRow::function, "that function's symbol (+offset) in the kernel image"},
    {"data", &KthreadRow::data, "the argument the function was given"},
    {"full_name", &KthreadRow::full_name,
     "the whole name when comm cut it (struct kthread.full_name, on kernels that keep one)"},
};

// Longest full_name read: the kernel makes it with kvasprintf from a
// format and a few numbers; a longer one is not a name.
constexpr size_t kMaxFullName = 256;

// The symbol that holds `address` (a run-time address), only inside the
// kernel image (_stext.._etext): past its end the nearest symbol below
// would name the wrong code. Module code is left unnamed here (memscope's
// core/linux/symbolize.h names it from the module's own symbols).
std::optional<std::string> kernel_function(const KernelView& kernel, uint64_t address) {
  const Profile& profile = kernel.profile();
  uint64_t link = address - kernel.virtual_shift();
  auto start = profile.symbol("_stext");
  auto end = profile.symbol("_etext");
  if (!start || !end || link < *start || link >= *end) return std::nullopt;
  const SymbolInfo* symbol = profile.nearest_symbol(link);
  if (!symbol) return std::nullopt;
  std::string name(profile.name(*symbol));
  return link == symbol->address ? name : name + "+" + hex(link - symbol->address);
}

void run_kthreads(Session& session, const PluginArgs& args, Rows<KthreadRow>& rows) {
  KernelView kernel = kernel_view(session);
  const Profile& profile = kernel.profile();
  // Where the task keeps its struct kthread, by kernel version.
  std::string link_field;
  if (profile.has_member("task_struct", "worker_private"))
    link_field = "worker_private";
  else if (profile.has_member("task_struct", "set_child_tid"))
    link_field = "set_child_tid";
  if (link_field.empty())
    rows.warnings().add("the profile has neither task_struct.worker_private nor .set_child_tid: no struct kthread");
  const bool has_kthread = profile.find_type("kthread") != nullptr;
  if (!has_kthread) rows.warnings().add("the profile has no struct kthread: only the threads are listed");
  const bool has_threadfn = has_kthread && profile.has_member("kthread", "threadfn");
  const bool has_full_name = has_kthread && profile.has_member("kthread", "full_name");
  if (has_kthread && !has_threadfn)
    rows.warnings().add("the profile's struct kthread has no threadfn (older kernels): start functions unknown");

  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  processes.for_each([&](const Task& task) {
    if (task.kernel_thread != true) return;
    KthreadRow row{.offset = Address{task.address}, .pid = task.pid, .comm = task.comm};
    if (!link_field.empty() && has_kthread) {
      try {
        uint64_t self = kernel.object("task_struct", task.address)[link_field].pointer();
        // kthreadd and tasks made by kernel_thread() directly have none.
        if (self != 0) {
          row.kthread = Address{self};
          Object k = kernel.object("kthread", self);
          if (has_threadfn) {
            uint64_t fn = k["threadfn"].pointer();
            if (fn != 0) {
              row.threadfn = Address{fn};
              row.function = kernel_function(kernel, fn);
            }
          }
          row.data = Address{k["data"].pointer()};
          if (has_full_name && !k["full_name"].is_null())
            row.full_name = k["full_name"].as_string(kMaxFullName);
        }
      } catch (const Error& e) {
        // One smeared struct kthread costs its own cells, not the list.
        rows.warnings().add("kthread", task.label() + ": cannot read its struct kthread: " + e.what());
      }
    }
    rows.add(row);
  });
}

}  // namespace kthreads

MEMSCOPE_PLUGIN_LIBRARY(make_plugin(
    PluginInfo{
        .name = "linux.kthreads",
        .description = "kernel threads and the function each runs (struct kthread.threadfn)",
        .options = {pid_option()},
        .required_types = {"task_struct"},
        .required_symbols = {"init_task"},
    },
    kthreads::kKthreadColumns, kthreads::run_kthreads));
