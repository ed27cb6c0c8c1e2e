// linux.elfs: the ELF images each process maps from files (its program,
// the dynamic loader, libraries): a file-backed VMA that maps offset 0 of
// its file and begins with an ELF header starts an image, and the VMAs of
// the same file that follow it are the rest of the image. With the
// program headers read from memory, the GNU build id (from PT_NOTE) and,
// with --dump-dir, the file rebuilt from its loaded segments
// (core/linux/elf_notes.h), named pid.<pid>.<start>.elf.
#include <algorithm>

#include "core/linux/elf_notes.h"
#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/dump_dir.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// A rebuilt image larger than this is not written (a forged program
// header); real programs and libraries are far smaller.
constexpr uint64_t kMaxElfBytes = 1ull << 30;
// Anonymous VMAs (bss, guard gaps) looked past between two parts of one
// image.
constexpr size_t kMaxAnonymousBetween = 4;

struct ElfsRow {
  std::optional<int64_t> pid{};
  Address start{}, end{};
  std::optional<std::string> path{};
  std::optional<std::string> build_id{};
};

const RowSchema<ElfsRow> kElfsColumns{
    {"pid", &ElfsRow::pid, "process ID"},
    {"start", &ElfsRow::start, "where the image's ELF header is mapped"},
    {"end", &ElfsRow::end, "the end of the last VMA of the image's file that follows"},
    {"path", &ElfsRow::path, "the file"},
    {"build_id", &ElfsRow::build_id, "GNU build id (hex) from the image's PT_NOTE, when it is in memory"},
};

// The same file: one struct file, or the same inode opened twice.
bool same_file(const Vma& a, const Vma& b) {
  if (!a.file_backed() || !b.file_backed()) return false;
  if (a.file == b.file) return true;
  return a.file_info && b.file_info && a.file_info->inode && a.file_info->inode == b.file_info->inode;
}

void run_elfs(Session& session, const PluginArgs& args, Rows<ElfsRow>& rows) {
  std::optional<DumpDir> dir;
  if (auto folder = args.string("dump-dir"))
    dir.emplace(*folder, args.flag("force"));
  else if (args.flag("force"))
    throw Error("linux.elfs: --force replaces the files --dump-dir writes; give --dump-dir DIR");
  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  VmaReader reader(kernel);
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) return;
    std::vector<Vma> vmas = reader.vmas(task.mm, task.label(), rows.warnings());
    std::optional<ProcessMemory> memory;
    for (size_t i = 0; i < vmas.size(); ++i) {
      const Vma& first = vmas[i];
      if (!first.file_backed() || first.pgoff != 0) continue;
      if (!memory && !(memory = processes.memory(task))) return;
      // The windows of the file this image is made of: this VMA and the
      // following ones of the same file, up to another image of it.
      std::vector<FileWindow> windows{{0, first.start, first.end - first.start}};
      uint64_t end = first.end;
      size_t anonymous = 0;
      for (size_t j = i + 1; j < vmas.size(); ++j) {
        const Vma& v = vmas[j];
        if (same_file(v, first)) {
          if (v.pgoff == 0) break;  // another image of the same file
          windows.push_back({v.file_offset(), v.start, v.end - v.start});
          end = v.end;
          anonymous = 0;
        } else if (v.file_backed() || ++anonymous > kMaxAnonymousBetween) {
          break;  // another file, or no more of this one
        }
      }
      std::string problem;
      auto elf = MappedElf::read(*memory->space, windows, problem);
      if (!elf) {
        if (!problem.empty())
          rows.warnings().add(task.label() + ": " + first.name + " at " + hex(first.start) + ": " + problem);
        continue;
      }
      ElfsRow row{.pid = task.pid, .start = Address{first.start}, .end = Address{end}, .path = first.name};
      row.build_id = elf->build_id(*memory->space);
      if (dir) {
        const std::string pid = task.pid ? std::to_string(*task.pid) : hex(task.address);
        const std::string name = "pid." + pid + "." + hex(first.start) + ".elf";
        try {
          MappedElf::Rebuilt file = elf->rebuild(*memory->space, kMaxElfBytes);
          DumpFile out = dir->create(name);
          out.write(file.bytes.data(), file.bytes.size());
          out.commit();
          if (file.missing_pages)
            rows.warnings().add(task.label() + ": " + name + " (" + first.name + "): " +
                                std::to_string(file.missing_pages) +
                                " pages of its loaded segments are not in the image, written as zeros");
        } catch (const Error& e) {
          rows.warnings().add(task.label() + ": " + first.name + " at " + hex(first.start) + ": not written: " +
                              e.what());
        }
      }
      rows.add(row);
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.elfs",
        .description = "ELF images (programs, libraries) mapped in each process, with their build ids",
        .options = {pid_option(),
                    PluginOption{"dump-dir", PluginOption::Kind::String,
                                 "rebuild each image from its loaded segments into this folder "
                                 "(pid.<pid>.<start>.elf)"},
                    PluginOption{"force", PluginOption::Kind::Flag, "replace files that exist"}},
        .required_types = {"task_struct", "mm_struct", "vm_area_struct", "file", "dentry"},
        .required_symbols = {"init_task"},
    },
    kElfsColumns, run_elfs));

}  // namespace memscope::linux_kernel
