// This process's own memory, for the figures measured inside it.
#pragma once

namespace memscope::bench {

// From /proc/self/status, in KiB: VmRSS, RssAnon, RssFile and VmHWM.
struct ResidentMemory {
  long total_kib = 0, anon_kib = 0, file_kib = 0, peak_kib = 0;
};

ResidentMemory resident_memory_now();

// Restarts the peak (VmHWM) from the current resident size, so that the
// next peak_kib is the peak of what runs in between.
void reset_peak_resident();

// The largest this process has been (ru_maxrss): what a child spawned now
// starts from (see process_run.h).
double own_peak_rss_mib();

}  // namespace memscope::bench
