// linux.proc_dump: a process's memory written to files for other tools,
// one file per VMA, named pid.<pid>.<start>-<end>.dmp (hex addresses) in
// the folder given with --dump-dir. Pages that are not in the image
// (never touched, swapped out, not captured) are written as zeros (holes
// in the file) and counted. --address keeps the VMA that holds an
// address; --range A:B keeps the part of each VMA inside [A, B).
//
// Nothing from the image reaches a file name, files are written under a
// temporary name and renamed when complete, and an existing file is only
// replaced with --force (core/util/dump_dir.h).
#include <algorithm>
#include <cstring>
#include <memory>

#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/dump_dir.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/sha256.h"

namespace memscope::linux_kernel {
namespace {

// A VMA larger than this is not dumped whole (a forged range, or a
// reservation of address space such as a sanitizer's shadow): --range
// takes the part wanted.
constexpr uint64_t kMaxDumpBytes = 64ull << 30;
constexpr uint64_t kPage = 4096;
constexpr uint64_t kChunkPages = 256;  // 1 MiB read, hashed and written at once

struct ProcDumpRow {
  std::optional<int64_t> pid{};
  Address start{}, end{};
  std::string file{};
  uint64_t bytes = 0;
  uint64_t zero_pages = 0;
  std::string sha256{};
};

const RowSchema<ProcDumpRow> kProcDumpColumns{
    {"pid", &ProcDumpRow::pid, "process ID"},
    {"start", &ProcDumpRow::start, "first address dumped"},
    {"end", &ProcDumpRow::end, "address just past the last one dumped"},
    {"file", &ProcDumpRow::file, "the file written, in the --dump-dir folder"},
    {"bytes", &ProcDumpRow::bytes, "its size"},
    {"zero_pages", &ProcDumpRow::zero_pages, "pages not in the image, written as zeros"},
    {"sha256", &ProcDumpRow::sha256, "SHA-256 of the file"},
};

struct Range {
  uint64_t start = 0, end = 0;
};

Range parse_range(const std::string& text) {
  size_t colon = text.find(':');
  if (colon == std::string::npos) throw Error("--range: '" + text + "' is not of the form START:END");
  Range r{parse_u64(text.substr(0, colon), "--range start"), parse_u64(text.substr(colon + 1), "--range end")};
  if (r.end <= r.start) throw Error("--range: the end " + hex(r.end) + " is not above the start " + hex(r.start));
  return r;
}

// Writes [start, end) of `space` into `out` through `chunk` (kChunkPages
// pages, reused); returns the pages that could not be read.
uint64_t dump(AddressSpace& space, uint64_t start, uint64_t end, DumpFile& out, Sha256& hash, uint8_t* chunk) {
  uint64_t zero_pages = 0;
  for (uint64_t at = start; at < end;) {
    uint64_t n = std::min<uint64_t>(end - at, kChunkPages * kPage);
    bool any = false;
    for (uint64_t page = 0; page < n; page += kPage) {
      uint64_t take = std::min<uint64_t>(kPage, n - page);
      if (space.read(at + page, chunk + page, take).ok()) {
        any = true;
      } else {
        std::memset(chunk + page, 0, take);
        ++zero_pages;
      }
    }
    hash.update(chunk, n);
    if (any)
      out.write(chunk, n);
    else
      out.skip(n);  // a hole: nothing of it is in the image
    at += n;
  }
  return zero_pages;
}

void run_proc_dump(Session& session, const PluginArgs& args, Rows<ProcDumpRow>& rows) {
  std::vector<int64_t> pids = args.ints("pid");
  if (pids.empty()) throw Error("linux.proc_dump: --pid is required (the processes whose memory to write)");
  auto folder = args.string("dump-dir");
  if (!folder) throw Error("linux.proc_dump: --dump-dir is required (the folder to write into)");
  std::optional<uint64_t> address;
  if (auto text = args.string("address")) address = parse_u64(*text, "--address");
  std::optional<Range> range;
  if (auto text = args.string("range")) range = parse_range(*text);
  DumpDir dir(*folder, args.flag("force"));

  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(pids));
  VmaReader reader(kernel);
  auto chunk = std::make_unique_for_overwrite<uint8_t[]>(kChunkPages * kPage);
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) {
      rows.warnings().add(task.label() + ": no user memory (a kernel thread or an exited process)");
      return;
    }
    auto memory = processes.memory(task);
    if (!memory) return;
    const std::string pid = task.pid ? std::to_string(*task.pid) : hex(task.address);
    bool matched = false;
    for (const Vma& vma : reader.vmas(task.mm, task.label(), rows.warnings(), {.names = false})) {
      uint64_t start = vma.start, end = vma.end;
      if (address && !(*address >= start && *address < end)) continue;
      if (range) {
        start = std::max(start, range->start);
        end = std::min(end, range->end);
        if (start >= end) continue;
      }
      matched = true;
      if (end - start > kMaxDumpBytes) {
        rows.warnings().add(task.label() + ": vma " + hex(vma.start) + "-" + hex(vma.end) + " holds " +
                            std::to_string((end - start) >> 30) + " GiB, more than the " +
                            std::to_string(kMaxDumpBytes >> 30) + " GiB written at once; not written (--range "
                            "takes a part of it)");
        continue;
      }
      ProcDumpRow row{.pid = task.pid, .start = Address{start}, .end = Address{end}};
      row.file = "pid." + pid + "." + hex(start) + "-" + hex(end) + ".dmp";
      try {
        DumpFile out = dir.create(row.file);
        Sha256 hash;
        row.zero_pages = dump(*memory->space, start, end, out, hash, chunk.get());
        out.commit();
        row.bytes = end - start;
        row.sha256 = Sha256::to_hex(hash.finish());
      } catch (const Error& e) {
        rows.warnings().add(task.label() + ": " + e.what());
        continue;
      }
      rows.add(row);
    }
    if (!matched && (address || range))
      rows.warnings().add(task.label() + ": no VMA holds " +
                          (address ? hex(*address) : "any of " + hex(range->start) + "-" + hex(range->end)));
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.proc_dump",
        .description = "write processes' memory to files, one per VMA (pages not in the image as zeros)",
        .options = {pid_option("the processes to dump (required): 1 5 or 1,5"),
                    PluginOption{"dump-dir", PluginOption::Kind::String, "the folder to write the files into"},
                    PluginOption{"address", PluginOption::Kind::String, "only the VMA that holds this address"},
                    PluginOption{"range", PluginOption::Kind::String,
                                 "only the part of each VMA inside START:END (END excluded)"},
                    PluginOption{"force", PluginOption::Kind::Flag, "replace files that exist"}},
        .required_types = {"task_struct", "mm_struct", "vm_area_struct"},
        .required_symbols = {"init_task"},
        .needs_options = "--pid and --dump-dir",
    },
    kProcDumpColumns, run_proc_dump));

}  // namespace memscope::linux_kernel
