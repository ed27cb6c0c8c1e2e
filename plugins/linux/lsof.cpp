// linux.lsof: each process's open files, from its file descriptor table
// (task->files->fdt: the open_fds bitmap and the fd array), with the path
// d_path gives (or the name of a pipe, socket or anonymous inode), the
// kind of file, the inode's mode and number (core/linux/files.h).
#include "core/linux/files.h"
#include "core/linux/processes.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

namespace memscope::linux_kernel {
namespace {

struct LsofRow {
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  uint64_t fd = 0;
  std::optional<std::string> path{};
  std::string type{};
  std::optional<std::string> mode{};
  std::optional<uint64_t> inode{};
};

const RowSchema<LsofRow> kLsofColumns{
    {"pid", &LsofRow::pid, "process ID"},
    {"comm", &LsofRow::comm, "command name"},
    {"fd", &LsofRow::fd, "file descriptor number"},
    {"path", &LsofRow::path,
     "the file's path (with ' (deleted)' when unlinked), or pipe:[N], socket:[N], anon_inode:NAME"},
    {"type", &LsofRow::type, "file, dir, chr, blk, fifo, pipe, socket, link, anon_inode or unknown"},
    {"mode", &LsofRow::mode, "the inode's type and permissions as ls -l shows them (-rw-r--r--)"},
    {"inode", &LsofRow::inode, "the inode number"},
};

void run_lsof(Session& session, const PluginArgs& args, Rows<LsofRow>& rows) {
  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  FileReader files(kernel);
  processes.for_each([&](const Task& task) {
    for (const OpenFile& file : files.open_files(task.address, task.label(), rows.warnings())) {
      LsofRow row{.pid = task.pid, .comm = task.comm, .fd = file.fd, .type = file_kind_name(file.kind)};
      if (!file.info.path.empty()) row.path = file.info.path;  // empty: unreadable, the warning says why
      if (file.mode) row.mode = file_mode_string(*file.mode);
      if (file.info.inode) row.inode = file.info.inode_number;
      rows.add(row);
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.lsof",
        .description = "open files of each process, from its file descriptor table",
        .options = {pid_option()},
        .required_types = {"task_struct", "files_struct", "fdtable", "file", "inode", "dentry"},
        .required_symbols = {"init_task"},
    },
    kLsofColumns, run_lsof));

}  // namespace memscope::linux_kernel
