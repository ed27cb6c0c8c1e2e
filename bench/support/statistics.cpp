#include "bench/support/statistics.h"

#include <algorithm>
#include <iomanip>
#include <sstream>

namespace memscope::bench {

double median(std::vector<double> samples) {
  if (samples.empty()) return 0;
  std::sort(samples.begin(), samples.end());
  return samples[samples.size() / 2];
}

Stats stats_of(std::vector<double> samples) {
  if (samples.empty()) return {};
  std::sort(samples.begin(), samples.end());
  return {samples.front(), samples[samples.size() / 2], samples.back()};
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

std::string median_and_range(const Stats& stats, int digits) {
  return fixed(stats.median, digits) + " (" + fixed(stats.min, digits) + "-" + fixed(stats.max, digits) + ")";
}

}  // namespace memscope::bench
