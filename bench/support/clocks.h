// The clocks the benchmarks read. CPU time is read beside wall time
// because the machines they run on are often shared: wall time also
// measures the neighbours, CPU time does not.
#pragma once

#include <time.h>

#include <chrono>

namespace memscope::bench {

// Monotonic: a wall-clock adjustment during a run must not show as time.
using Clock = std::chrono::steady_clock;

inline double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

inline double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

inline double cpu_clock_seconds(clockid_t clock) {
  timespec now{};
  ::clock_gettime(clock, &now);
  return static_cast<double>(now.tv_sec) + static_cast<double>(now.tv_nsec) / 1e9;
}

// User + system time of every thread of this process (a scan on all cores
// counts each core).
inline double process_cpu_seconds() { return cpu_clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

// User + system time of the calling thread only: single-threaded work
// measured without the process's other threads.
inline double thread_cpu_seconds() { return cpu_clock_seconds(CLOCK_THREAD_CPUTIME_ID); }

}  // namespace memscope::bench
