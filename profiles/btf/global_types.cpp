#include "profiles/btf/global_types.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>

#include "core/util/error.h"

namespace memscope {

namespace {

// Each entry is the variable's declaration in the kernel source (x86_64),
// reduced to what a profile can say. Arrays whose length depends on the
// configuration (NR_CPUS, log buffer size) are left unsized ("[]").
// Keep sorted by symbol (checked by a test).
constexpr std::array kKnownGlobalTypes = std::to_array<KnownGlobalType>({
    // Kernel image layout (include/asm-generic/sections.h: extern char _text[], ...).
    {"__bss_start", "char []"},
    {"__bss_stop", "char []"},
    {"__cpu_active_mask", "struct cpumask"},
    {"__cpu_online_mask", "struct cpumask"},
    {"__cpu_possible_mask", "struct cpumask"},
    {"__cpu_present_mask", "struct cpumask"},
    {"__end_rodata", "char []"},
    {"__init_begin", "char []"},
    {"__init_end", "char []"},
    {"__per_cpu_end", "char []"},
    {"__per_cpu_offset", "long unsigned int [..]"},  // unsigned long __per_cpu_offset[NR_CPUS]
    {"__per_cpu_start", "char []"},
    {"__start___ksymtab", "struct kernel_symbol []"},
    {"__start___ksymtab_gpl", "struct kernel_symbol []"},
    {"__start_rodata", "char []"},
    {"__stop___ksymtab", "struct kernel_symbol []"},
    {"__stop___ksymtab_gpl", "struct kernel_symbol []"},
    {"_edata", "char []"},
    {"_einittext", "char []"},
    {"_end", "char []"},
    {"_etext", "char []"},
    // Kernel log: the printk ring buffer (5.10+); log_buf* below.
    {"_printk_rb_static_descs", "struct prb_desc []"},
    {"_printk_rb_static_infos", "struct printk_info []"},
    {"_sdata", "char []"},
    {"_sinittext", "char []"},
    {"_stext", "char []"},
    {"_text", "char []"},
    {"boot_cpu_data", "struct cpuinfo_x86"},
    {"btf_idr", "struct idr"},
    {"console_printk", "int []"},
    {"cont", "struct cont"},  // before 5.10: the pending continuation line
    // Per-CPU; BTF normally has it, this is the fallback.
    {"current_task", "struct task_struct *"},
    {"ftrace_list_end", "struct ftrace_ops"},
    {"ftrace_ops_list", "struct ftrace_ops *"},
    {"ia32_sys_call_table", "sys_call_ptr_t [] | function * []"},
    {"idt_table", "gate_desc [256]"},  // IDT_ENTRIES: fixed by the x86 architecture
    {"init_cred", "struct cred"},
    {"init_files", "struct files_struct"},
    {"init_fs", "struct fs_struct"},
    {"init_ipc_ns", "struct ipc_namespace"},
    {"init_level4_pgt", "pgd_t []"},  // the name of init_top_pgt before 4.13
    {"init_mm", "struct mm_struct"},
    {"init_net", "struct net"},
    {"init_nsproxy", "struct nsproxy"},
    {"init_pid_ns", "struct pid_namespace"},
    {"init_struct_pid", "struct pid"},
    {"init_task", "struct task_struct"},
    {"init_top_pgt", "pgd_t []"},
    {"init_user_ns", "struct user_namespace"},
    {"init_uts_ns", "struct uts_namespace"},
    {"jiffies", "long unsigned int"},
    {"jiffies_64", "u64"},
    {"keyboard_notifier_list", "struct atomic_notifier_head"},
    {"legacy_special_mapping_vmops", "struct vm_operations_struct"},
    {"link_idr", "struct idr"},
    {"linux_banner", "char []"},
    {"linux_proc_banner", "char []"},
    {"log_buf", "char *"},
    {"log_buf_len", "u32"},
    {"log_first_idx", "u32"},  // before 5.10
    {"log_first_seq", "u64"},
    {"log_next_idx", "u32"},
    {"log_next_seq", "u64"},
    {"map_idr", "struct idr"},
    {"max_pfn", "long unsigned int"},
    {"mod_tree", "struct mod_tree_root"},
    {"module_kset", "struct kset *"},
    {"module_mutex", "struct mutex"},
    {"modules", "struct list_head"},
    {"net_namespace_list", "struct list_head"},
    {"nr_cpu_ids", "unsigned int"},
    {"nr_threads", "int"},
    {"page_offset_base", "long unsigned int"},
    {"phys_base", "long unsigned int"},
    {"pid_max", "int"},
    {"prb", "struct printk_ringbuffer *"},
    {"printk_rb_dynamic", "struct printk_ringbuffer"},
    {"printk_rb_static", "struct printk_ringbuffer"},
    {"prog_idr", "struct idr"},
    {"special_mapping_vmops", "struct vm_operations_struct"},
    {"swapper_pg_dir", "pgd_t []"},
    {"sys_call_table", "sys_call_ptr_t [] | function * []"},
    {"tasklist_lock", "rwlock_t"},
    {"tty_drivers", "struct list_head"},
    {"tty_ldiscs", "struct tty_ldisc_ops * [..]"},  // [NR_LDISCS], 30 before 6.0, 31 after
    {"vmalloc_base", "long unsigned int"},
    {"vmap_area_list", "struct list_head"},
    {"vmcoreinfo_data", "unsigned char *"},
    {"vmcoreinfo_note", "u32 *"},
    {"vmemmap_base", "long unsigned int"},
    {"x32_sys_call_table", "sys_call_ptr_t [] | function * []"},
});

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "long   unsigned int" -> "long unsigned int".
std::string collapse_spaces(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

TypeDeclaration parse_one(std::string_view text, std::string_view whole) {
  auto fail = [&](const std::string& why) -> TypeDeclaration {
    throw Error("type declaration '" + std::string(whole) + "': " + why);
  };
  size_t suffix_at = text.find_first_of("*[");
  std::string_view base = trim(text.substr(0, suffix_at == std::string_view::npos ? text.size() : suffix_at));
  TypeDeclaration decl;
  const std::string_view first_word = base.substr(0, base.find_first_of(" \t"));
  for (auto [word, tag] : {std::pair{std::string_view("struct"), TypeDeclaration::Tag::kStruct},
                           std::pair{std::string_view("union"), TypeDeclaration::Tag::kUnion},
                           std::pair{std::string_view("enum"), TypeDeclaration::Tag::kEnum}}) {
    if (first_word == word) {
      decl.tag = tag;
      base = trim(base.substr(word.size()));
      break;
    }
  }
  decl.name = collapse_spaces(base);
  if (decl.name.empty()) return fail("no type name");
  for (char c : decl.name)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == ' ')) return fail("bad character in the type name");
  if (suffix_at == std::string_view::npos) return decl;
  std::string_view rest = text.substr(suffix_at);
  while (!(rest = trim(rest)).empty()) {
    if (rest.front() == '*') {
      decl.suffixes.push_back({true, 0});
      rest.remove_prefix(1);
      continue;
    }
    if (rest.front() != '[') return fail("expected '*' or '['");
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail("missing ']'");
    std::string_view digits = trim(rest.substr(1, close - 1));
    uint32_t count = 0;
    if (digits == "..") {
      decl.suffixes.push_back({false, 0, true});
      rest.remove_prefix(close + 1);
      continue;
    }
    if (!digits.empty()) {
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), count);
      if (ec != std::errc() || ptr != digits.data() + digits.size()) return fail("bad array length");
    }
    decl.suffixes.push_back({false, count});
    rest.remove_prefix(close + 1);
  }
  return decl;
}

}  // namespace

std::vector<TypeDeclaration> parse_type_declarations(std::string_view text) {
  std::vector<TypeDeclaration> out;
  size_t start = 0;
  while (true) {
    size_t bar = text.find('|', start);
    std::string_view part = text.substr(start, bar == std::string_view::npos ? std::string_view::npos : bar - start);
    out.push_back(parse_one(part, text));
    if (bar == std::string_view::npos) break;
    start = bar + 1;
  }
  return out;
}

std::span<const KnownGlobalType> known_global_types() { return kKnownGlobalTypes; }

const KnownGlobalType* find_known_global_type(std::string_view symbol) {
  auto it = std::lower_bound(kKnownGlobalTypes.begin(), kKnownGlobalTypes.end(), symbol,
                             [](const KnownGlobalType& entry, std::string_view name) { return entry.symbol < name; });
  if (it == kKnownGlobalTypes.end() || it->symbol != symbol) return nullptr;
  return &*it;
}

}  // namespace memscope
