// Timing one run of some work in this process, on the wall clock and on a
// CPU clock at once, and turning it into rates.
#pragma once

#include <utility>

#include "bench/support/clocks.h"

namespace memscope::bench {

// Which CPU time a measurement counts: the calling thread's (steady for
// single-threaded work), or the whole process's (work spread over threads).
enum class CpuTime { calling_thread, whole_process };

// Units (reads, bytes, MB...) per wall second and per CPU-second.
struct Rate {
  double wall = 0, cpu = 0;
};

// Wall and CPU seconds of one run.
struct Elapsed {
  double wall_s = 0, cpu_s = 0;

  Rate rate(double units) const { return Rate{units / wall_s, units / cpu_s}; }
};

inline double cpu_seconds(CpuTime which) {
  return which == CpuTime::calling_thread ? thread_cpu_seconds() : process_cpu_seconds();
}

// Runs `work` once, between two readings of each clock.
template <typename Work>
Elapsed time_once(Work&& work, CpuTime which = CpuTime::calling_thread) {
  const double cpu = cpu_seconds(which);
  const Clock::time_point start = Clock::now();
  std::forward<Work>(work)();
  Elapsed out;
  out.wall_s = seconds_since(start);
  out.cpu_s = cpu_seconds(which) - cpu;
  return out;
}

}  // namespace memscope::bench
