// linux.yarascan: YARA rules over each process's memory (its VMAs, as the
// process sees them, one scan per process) and, with --kernel, over the
// kernel's memory: physical memory scanned by core/scan's engine, each hit
// shown where the kernel maps it (core/linux/yara_scan.h).
#include <cctype>

#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/linux/yara_scan.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "core/util/error.h"

namespace memscope::linux_kernel {
namespace {

struct YarascanRow {
  std::optional<int64_t> pid{};
  std::optional<std::string> comm{};
  std::string rule{};
  std::optional<Address> address{};
  std::string match{};
};

const RowSchema<YarascanRow> kYarascanColumns{
    {"pid", &YarascanRow::pid, "process ID (empty for a --kernel match)"},
    {"comm", &YarascanRow::comm,
     "command name; 'kernel' for a --kernel match the kernel maps, 'physical' for one it does not map"},
    {"rule", &YarascanRow::rule, "the rule that matched"},
    {"address", &YarascanRow::address,
     "where the string matched: a user address in the process; for --kernel the kernel's address (its image or "
     "direct map), or the physical one; empty when the rule matched without a string to show"},
    {"match", &YarascanRow::match, "the matched bytes (at most 64) as hex, then as printable text"},
};

bool starts_with_word(const std::string& text, const char* word) {
  size_t n = std::strlen(word);
  return text.compare(0, n, word) == 0 && (text.size() == n || std::isspace(static_cast<unsigned char>(text[n])));
}

// --yara-string as Volatility users give it: a rule source ("rule x {
// ... }"), a hex string ("{ 4d 5a }"), a regular expression ("/ab+c/i"),
// or else a text to find as it is.
YaraRules rules_from_string(const std::string& given) {
  size_t first = given.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) throw Error("--yara-string: empty");
  std::string text = given.substr(first);
  for (const char* word : {"rule", "private", "global", "import", "include"})
    if (starts_with_word(text, word)) return YaraRules::from_string(given);
  if (text[0] == '{' || (text[0] == '/' && text.find('/', 1) != std::string::npos))
    return YaraRules::from_string("rule yara_string { strings: $a = " + text + " condition: $a }");
  return YaraRules::from_string(YaraRules::rule_for_text(given));
}

void run_yarascan(Session& session, const PluginArgs& args, Rows<YarascanRow>& rows) {
  auto file = args.string("yara-file");
  auto text = args.string("yara-string");
  if (!file && !text) throw Error("linux.yarascan: give the rules with --yara-file RULES or --yara-string TEXT");
  if (file && text) throw Error("linux.yarascan: give --yara-file or --yara-string, not both");
  YaraRules rules = file ? YaraRules::from_file(*file) : rules_from_string(*text);

  KernelView kernel = kernel_view(session);
  Warnings& warnings = rows.warnings();
  YaraScanOptions options;
  options.progress = "yarascan: process memory";
  YaraScanner scanner(kernel, rules, options);

  // The processes and their VMAs (page tables and ranges only: the bytes
  // are read while YARA scans).
  ProcessWalk processes(kernel, warnings, PidFilter(args.ints("pid")));
  VmaReader vmas(kernel);
  std::vector<Task> tasks;
  std::vector<YaraProcess> targets;
  processes.for_each([&](const Task& task) {
    if (task.mm == 0) return;  // kernel threads and zombies have no user memory
    auto memory = processes.memory(task);
    if (!memory) return;
    YaraProcess target{task.label(), memory->pgd_physical, {}};
    for (const Vma& vma : vmas.vmas(task.mm, task.label(), warnings, {.names = false}))
      target.vmas.push_back({vma.start, vma.end - vma.start});
    tasks.push_back(task);
    targets.push_back(std::move(target));
  });
  std::vector<YaraProcessResult> results = scanner.scan_processes(targets, warnings);
  for (size_t i = 0; i < results.size(); ++i)
    for (const YaraMatch& m : results[i].matches) {
      YarascanRow row{.pid = tasks[i].pid, .comm = tasks[i].comm, .rule = m.rule, .match = format_match_bytes(m.data)};
      if (m.address) row.address = Address{*m.address};
      rows.add(row);
    }

  if (!args.flag("kernel")) return;
  AddressSpace* physical = kernel.kernel().below();
  if (!physical) throw Error("linux.yarascan --kernel: the kernel's space has no physical layer below it");
  KernelAddresses addresses(kernel);
  YaraScanOptions kernel_options;
  kernel_options.progress = "yarascan: kernel memory";
  YaraScanner kernel_scanner(kernel, rules, kernel_options);
  kernel_scanner.scan_physical(
      *physical,
      [&](const YaraMatch& m) {
        YarascanRow row{.comm = std::string("kernel"), .rule = m.rule, .match = format_match_bytes(m.data)};
        if (m.address) {
          if (auto mapped = addresses.virtual_of(*m.address)) {
            row.address = Address{*mapped};
          } else {
            row.comm = "physical";
            row.address = Address{*m.address};
          }
        }
        rows.add(row);
      },
      warnings);
}

}  // namespace

MEMSCOPE_REGISTER(plugin_registry(), make_plugin(
    PluginInfo{
        .name = "linux.yarascan",
        .description = "YARA rules over each process's memory and, with --kernel, the kernel's",
        .options = {PluginOption{"yara-file", PluginOption::Kind::String, "a file of YARA rules"},
                    PluginOption{"yara-string", PluginOption::Kind::String,
                                 "a rule, a hex string ({ 4d 5a }), a regex (/x+/), or a text to find as it is"},
                    pid_option(),
                    PluginOption{"kernel", PluginOption::Kind::Flag,
                                 "scan kernel memory too (all physical memory, shown at the kernel's addresses)"}},
        .required_types = {"task_struct", "mm_struct", "vm_area_struct"},
        .required_symbols = {"init_task"},
        .needs_options = "YARA rules (--yara-file or --yara-string)",
    },
    kYarascanColumns, run_yarascan));

}  // namespace memscope::linux_kernel
