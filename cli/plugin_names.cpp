#include "cli/plugin_names.h"

#include <algorithm>
#include <cctype>

namespace memscope::cli {
namespace {

bool iequal(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
         });
}

}  // namespace

const std::vector<VolatilityName>& volatility_names() {
  // Volatility 3's Linux plugins, by module path and class, as of its 2.x
  // releases: plugins that moved to linux.malware (2.11+) and
  // linux.tracing are listed under both paths. Plugins with no memscope
  // equivalent (bash, capabilities, check_afinfo, iomem, kallsyms,
  // library_list, mountinfo, pagecache, pidhashtable, ptrace, ip, ...) are
  // not here: they are unknown names, with a suggestion if one is close.
  static const std::vector<VolatilityName> names = {
      {"banners.Banners", "info", {"--all-banners"}},
      {"linux.check_creds.Check_creds", "linux.check_creds"},
      {"linux.malware.check_creds.Check_creds", "linux.check_creds"},
      {"linux.check_idt.Check_idt", "linux.check_idt"},
      {"linux.malware.check_idt.Check_idt", "linux.check_idt"},
      {"linux.check_modules.Check_modules", "linux.check_modules"},
      {"linux.malware.check_modules.Check_modules", "linux.check_modules"},
      {"linux.check_syscall.Check_syscall", "linux.check_syscall"},
      {"linux.malware.check_syscall.Check_syscall", "linux.check_syscall"},
      {"linux.ebpf.EBPF", "linux.ebpf"},
      {"linux.elfs.Elfs", "linux.elfs"},
      {"linux.envars.Envars", "linux.envars"},
      {"linux.envvars.Envvars", "linux.envars"},
      {"linux.hidden_modules.Hidden_modules", "linux.hidden_modules"},
      {"linux.malware.hidden_modules.Hidden_modules", "linux.hidden_modules"},
      {"linux.keyboard_notifiers.Keyboard_notifiers", "linux.keyboard_notifiers"},
      {"linux.malware.keyboard_notifiers.Keyboard_notifiers", "linux.keyboard_notifiers"},
      {"linux.kmsg.Kmsg", "linux.kmsg"},
      {"linux.lsmod.Lsmod", "linux.lsmod"},
      {"linux.lsof.Lsof", "linux.lsof"},
      {"linux.malfind.Malfind", "linux.malfind"},
      {"linux.malware.malfind.Malfind", "linux.malfind"},
      // modxview: every module with the views that hold it.
      {"linux.modxview.Modxview", "linux.hidden_modules", {"--all"}},
      {"linux.malware.modxview.Modxview", "linux.hidden_modules", {"--all"}},
      {"linux.netfilter.Netfilter", "linux.netfilter"},
      {"linux.malware.netfilter.Netfilter", "linux.netfilter"},
      {"linux.proc.Maps", "linux.maps"},
      {"linux.psaux.PsAux", "linux.psaux"},
      {"linux.pslist.PsList", "linux.pslist"},
      {"linux.psscan.PsScan", "linux.psscan"},
      {"linux.pstree.PsTree", "linux.pstree"},
      {"linux.sockstat.Sockstat", "linux.sockstat"},
      {"linux.tracing.ftrace.CheckFtrace", "linux.ftrace"},
      {"linux.kernel_tracing.ftrace.CheckFtrace", "linux.ftrace"},
      {"linux.tty_check.tty_check", "linux.tty_check"},
      {"linux.malware.tty_check.Tty_Check", "linux.tty_check"},
      {"linux.vmayarascan.VmaYaraScan", "linux.yarascan"},
      // Volatility's yarascan scans the kernel's layer, not the processes.
      {"yarascan.YaraScan", "linux.yarascan", {"--kernel"}},
  };
  return names;
}

const VolatilityName* find_volatility_name(std::string_view typed) {
  for (const VolatilityName& name : volatility_names()) {
    if (iequal(typed, name.volatility)) return &name;
    std::string_view module = name.volatility.substr(0, name.volatility.rfind('.'));
    if (iequal(typed, module)) return &name;
  }
  return nullptr;
}

std::vector<std::string> volatility_names_of(std::string_view command) {
  std::vector<std::string> out;
  for (const VolatilityName& name : volatility_names())
    if (name.memscope == command && name.options.empty()) out.emplace_back(name.volatility);
  return out;
}

}  // namespace memscope::cli
