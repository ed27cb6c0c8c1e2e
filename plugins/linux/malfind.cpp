// linux.malfind: memory that may hold injected code. A mapping is
// reported when it is writable and executable (code that can be changed
// in place: shellcode loaders, some JITs), or executable without a file
// behind it when the kernel did not install it itself ([vdso] and other
// vm_special_mappings are not reported). Each row shows the first 64 bytes
// as hex and text and, when memscope is built with Debian's libcapstone,
// the first instructions they decode to.
#include <cstring>

#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

#ifdef MEMSCOPE_HAVE_CAPSTONE
#include <capstone/capstone.h>
#endif

namespace memscope::linux_kernel {
namespace {

constexpr size_t kPreviewBytes = 64;
constexpr size_t kMaxInstructions = 8;

struct MalfindRow {
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  Address start{}, end{};
  std::string flags{};
  std::optional<std::string> path{};
  std::optional<std::string> hexdump{};
  std::optional<std::string> disasm{};
};

const RowSchema<MalfindRow> kMalfindColumns{
    {"pid", &MalfindRow::pid, "process ID"},
    {"comm", &MalfindRow::comm, "command name"},
    {"start", &MalfindRow::start, "first address of the mapping"},
    {"end", &MalfindRow::end, "address just past the mapping"},
    {"flags", &MalfindRow::flags, "permissions as /proc shows them (rwxp)"},
    {"path", &MalfindRow::path, "the file mapped, or the mapping's name; empty for anonymous memory"},
    {"hexdump", &MalfindRow::hexdump, "the first 64 bytes: hex, then as text ('.' for unprintable bytes)"},
    {"disasm", &MalfindRow::disasm,
     "the first instructions (x86-64) those bytes decode to, '; '-separated (empty without libcapstone)"},
};

bool suspicious(const Vma& vma) {
  const bool write = vma.flags & kVmWrite, exec = vma.flags & kVmExec;
  return (write && exec) || (exec && !vma.file_backed() && !vma.special);
}

std::string hexdump(const uint8_t* bytes, size_t n) {
  static const char* digits = "0123456789abcdef";
  std::string hex, text;
  for (size_t i = 0; i < n; ++i) {
    if (i) hex += ' ';
    hex += digits[bytes[i] >> 4];
    hex += digits[bytes[i] & 15];
    text += (bytes[i] >= 0x20 && bytes[i] < 0x7f) ? char(bytes[i]) : '.';
  }
  return hex + "  " + text;
}

#ifdef MEMSCOPE_HAVE_CAPSTONE
class Disassembler {
 public:
  Disassembler() { ok_ = cs_open(CS_ARCH_X86, CS_MODE_64, &handle_) == CS_ERR_OK; }
  ~Disassembler() {
    if (ok_) cs_close(&handle_);
  }
  Disassembler(const Disassembler&) = delete;
  Disassembler& operator=(const Disassembler&) = delete;
  static bool available() { return true; }
  std::optional<std::string> operator()(const uint8_t* bytes, size_t n, uint64_t address) {
    if (!ok_) return std::nullopt;
    cs_insn* insn = nullptr;
    size_t count = cs_disasm(handle_, bytes, n, address, kMaxInstructions, &insn);
    std::string out;
    for (size_t i = 0; i < count; ++i) {
      if (i) out += "; ";
      out += insn[i].mnemonic;
      if (insn[i].op_str[0]) out += std::string(" ") + insn[i].op_str;
    }
    if (count) cs_free(insn, count);
    return out;
  }

 private:
  csh handle_ = 0;
  bool ok_ = false;
};
#else
struct Disassembler {
  static bool available() { return false; }
  std::optional<std::string> operator()(const uint8_t*, size_t, uint64_t) { return std::nullopt; }
};
#endif

void run_malfind(Session& session, const PluginArgs& args, Rows<MalfindRow>& rows) {
  KernelView kernel = kernel_view(session);
  ProcessWalk processes(kernel, rows.warnings(), PidFilter(args.ints("pid")));
  VmaReader reader(kernel);
  Disassembler disassemble;
  bool reported = false;
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) return;
    std::vector<Vma> vmas = reader.vmas(task.mm, task.label(), rows.warnings());
    std::optional<ProcessMemory> memory;
    for (const Vma& vma : vmas) {
      if (!suspicious(vma)) continue;
      if (!memory && !(memory = processes.memory(task))) return;
      MalfindRow row{.pid = task.pid,
                     .comm = task.comm,
                     .start = Address{vma.start},
                     .end = Address{vma.end},
                     .flags = vma.permissions(),
                     .path = vma.name};
      uint8_t bytes[kPreviewBytes] = {};
      size_t n = std::min<uint64_t>(kPreviewBytes, vma.end - vma.start);
      // A page never touched is not in memory: its cells stay empty.
      if (memory->space->read(vma.start, bytes, n).ok()) {
        row.hexdump = hexdump(bytes, n);
        row.disasm = disassemble(bytes, n, vma.start);
      }
      if (!Disassembler::available() && !reported) {
        rows.warnings().add("memscope was built without libcapstone: the disasm column stays empty");
        reported = true;
      }
      rows.add(row);
    }
  });
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.malfind",
        .description = "process memory that may hold injected code: writable and executable, or executable "
                       "anonymous memory the kernel did not map itself",
        .options = {pid_option()},
        .required_types = {"task_struct", "mm_struct", "vm_area_struct"},
        .required_symbols = {"init_task"},
    },
    kMalfindColumns, run_malfind));

}  // namespace memscope::linux_kernel
