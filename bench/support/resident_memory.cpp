#include "bench/support/resident_memory.h"

#include <sys/resource.h>

#include <fstream>
#include <sstream>
#include <string>

namespace memscope::bench {

ResidentMemory resident_memory_now() {
  ResidentMemory out;
  std::ifstream status("/proc/self/status");
  for (std::string line; std::getline(status, line);) {
    std::istringstream fields(line);
    std::string key;
    long kib = 0;
    if (!(fields >> key >> kib)) continue;
    if (key == "VmRSS:") out.total_kib = kib;
    else if (key == "RssAnon:") out.anon_kib = kib;
    else if (key == "RssFile:") out.file_kib = kib;
    else if (key == "VmHWM:") out.peak_kib = kib;
  }
  return out;
}

void reset_peak_resident() { std::ofstream("/proc/self/clear_refs") << "5"; }

double own_peak_rss_mib() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace memscope::bench
