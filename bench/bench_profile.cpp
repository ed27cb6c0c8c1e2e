// Profile loading speed: first load (decompress + SAX parse + build),
// writing the binary cache entry, and loading from the cache.
//
//   bench_profile ISF-FILE
//   bench_profile                (uses $MEMSCOPE_FIXTURES/linux-6.1/isf.json.xz)
//
// Peak RSS is the process's high-water mark right after the first load,
// which is what an analyst's first run of memscope pays. The cache goes to a
// temporary directory: the user's cache is not touched.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/profile.h"
#include "profiles/isf_loader.h"
#include "profiles/profile_cache.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// CPU time of this process: on a shared machine wall time also measures
// the neighbours.
double cpu_seconds() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
}

long peak_rss_kib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return usage.ru_maxrss;
}

}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  std::string path;
  if (argc > 1) {
    path = argv[1];
  } else if (const char* fixtures = std::getenv("MEMSCOPE_FIXTURES")) {
    path = (fs::path(fixtures) / "linux-6.1" / "isf.json.xz").string();
  }
  if (path.empty() || !fs::exists(path)) {
    std::fprintf(stderr, "bench_profile: %s not found (give an ISF file)\n", path.c_str());
    return 2;
  }
  std::printf("ISF: %s (%ju bytes)\n", path.c_str(), uintmax_t(fs::file_size(path)));
  long rss_before = peak_rss_kib();

  auto start = std::chrono::steady_clock::now();
  double cpu_start = cpu_seconds();
  auto profile = memscope::parse_isf_file(path);
  double first = seconds_since(start);
  double first_cpu = cpu_seconds() - cpu_start;
  long rss_after = peak_rss_kib();
  std::printf("first load (parse):  %.3f s wall, %.3f s CPU, peak RSS %.1f MiB (%.1f MiB before)\n", first,
              first_cpu, rss_after / 1024.0, rss_before / 1024.0);
  std::printf("model: %zu types, %zu members, %zu enumerators, %zu symbols\n", profile->types().size(),
              profile->member_count(), profile->enumerator_count(), profile->symbols().size());

  fs::path cache_dir = fs::temp_directory_path() / ("memscope-bench-cache-" + std::to_string(::getpid()));
  memscope::ProfileCache cache(cache_dir.string());
  memscope::SourceKey key = memscope::source_key(path);
  start = std::chrono::steady_clock::now();
  std::string why;
  if (!cache.store(key, *profile, &why)) {
    std::fprintf(stderr, "cache store failed: %s\n", why.c_str());
    return 1;
  }
  double store = seconds_since(start);
  std::printf("cache store:         %.3f s, entry %ju bytes\n", store,
              uintmax_t(fs::file_size(cache.entry_path(key))));

  std::vector<double> times;
  for (int i = 0; i < 10; ++i) {
    start = std::chrono::steady_clock::now();
    auto cached = cache.load(memscope::source_key(path), &why);
    times.push_back(seconds_since(start));
    if (!cached) {
      std::fprintf(stderr, "cache load failed: %s\n", why.c_str());
      return 1;
    }
  }
  std::sort(times.begin(), times.end());
  std::printf("cached load:         %.1f ms median, %.1f ms min (10 runs, key computation included)\n",
              times[times.size() / 2] * 1e3, times.front() * 1e3);

  start = std::chrono::steady_clock::now();
  cpu_start = cpu_seconds();
  memscope::IsfSummary summary = memscope::read_isf_summary(path);
  std::printf("banner-only scan:    %.3f s wall, %.3f s CPU (%s)\n", seconds_since(start), cpu_seconds() - cpu_start,
              summary.banner.empty() ? "no banner" : "banner found");

  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  return 0;
}
