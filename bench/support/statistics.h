// Summaries of repeated measurements and the number format of the tables
// docs/performance.md quotes.
#pragma once

#include <string>
#include <vector>

namespace memscope::bench {

struct Stats {
  double min = 0, median = 0, max = 0;
};

// The middle sample (the upper one of an even count); 0 when there is
// none, as for a command that failed before it was measured.
double median(std::vector<double> samples);

// Smallest, median and largest sample; zeros when there is none.
Stats stats_of(std::vector<double> samples);

// `value` with `digits` decimals.
std::string fixed(double value, int digits);

// "median (min-max)", each with `digits` decimals: the tables' time columns.
std::string median_and_range(const Stats& stats, int digits);

}  // namespace memscope::bench
