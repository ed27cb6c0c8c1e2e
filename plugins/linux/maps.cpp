// linux.maps: each process's memory map, one row per VMA, as
// /proc/PID/maps shows it (range, permissions, offset, device, inode,
// path or [heap]/[stack]/[vdso]/[vvar]). The VMAs come from the maple tree
// (6.1+), the rbtree or the mmap list, whichever the profile says the
// kernel has (core/linux/vmas.h).
#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct MapsRow {
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  Address start{}, end{};
  std::string flags{};
  uint64_t pgoff = 0;
  uint64_t major = 0, minor = 0, inode = 0;
  std::optional<std::string> path{};
};

const RowSchema<MapsRow> kMapsColumns{
    {"pid", &MapsRow::pid, "process ID"},
    {"comm", &MapsRow::comm, "command name"},
    {"start", &MapsRow::start, "first address of the mapping"},
    {"end", &MapsRow::end, "address just past the mapping"},
    {"flags", &MapsRow::flags, "permissions as /proc shows them: r-xp, rw-s (s: shared, p: private)"},
    {"pgoff", &MapsRow::pgoff, "offset in the file, in bytes (0 for anonymous memory)"},
    {"major", &MapsRow::major, "major number of the file's device (0 for anonymous memory)"},
    {"minor", &MapsRow::minor, "minor number of the file's device"},
    {"inode", &MapsRow::inode, "the file's inode number (0 for anonymous memory)"},
    {"path", &MapsRow::path,
     "the file's path (with ' (deleted)' when unlinked), [heap], [stack], [vdso], [vvar], [anon:name], or empty"},
};

void run_maps(Session& session, const PluginArgs& args, Rows<MapsRow>& rows) {
  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  VmaReader reader(kernel);
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) return;  // kernel threads and zombies have no user memory
    for (const Vma& vma : reader.vmas(task.mm, task.label(), rows.warnings())) {
      MapsRow row{.pid = task.pid,
                  .comm = task.comm,
                  .start = Address{vma.start},
                  .end = Address{vma.end},
                  .flags = vma.permissions(),
                  .pgoff = vma.file_offset(),
                  .path = vma.name};
      if (vma.file_info) {
        row.major = vma.file_info->major;
        row.minor = vma.file_info->minor;
        row.inode = vma.file_info->inode_number;
        if (vma.file_info->path.empty()) row.path.reset();  // unreadable: the warning says why
      }
      rows.add(row);
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.maps",
        .description = "memory map of each process (its VMAs), as /proc/PID/maps shows it",
        .options = {pid_option()},
        .required_types = {"task_struct", "mm_struct", "vm_area_struct", "file", "dentry"},
        .required_symbols = {"init_task"},
    },
    kMapsColumns, run_maps));

}  // namespace memscope::linux_kernel
