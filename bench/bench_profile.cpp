// Profile loading speed: first load (decompress + SAX parse + build),
// writing the binary cache entry, and loading from the cache.
//
//   bench_profile ISF-FILE
//   bench_profile                (uses $MEMSCOPE_FIXTURES/linux-6.1/isf.json.xz)
//
// Then the typed-object API: a synthetic list of task_structs (laid out with
// the profile's own offsets, in an in-memory address space) is walked while
// reading pid and comm, by member name and through pre-resolved FieldRefs.
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
#include <cstring>
#include <functional>
#include <filesystem>
#include <string>
#include <vector>

#include "core/types/object.h"
#include "core/types/profile.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/cache/profile_cache.h"

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

// A flat in-memory address space: [base, base + bytes.size()).
class FlatSpace : public memscope::AddressSpace {
 public:
  FlatSpace(uint64_t base, size_t size) : base_(base), bytes_(size) {}
  std::string name() const override { return "flat"; }
  AddressSpace* below() const override { return nullptr; }
  uint64_t limit() const override { return base_ + bytes_.size(); }
  void ranges(const std::function<bool(const memscope::Range&)>& visit) const override {
    visit(memscope::Range{base_, bytes_.size()});
  }
  const uint8_t* peek(uint64_t address, size_t n) override {
    if (!peek_ || address < base_ || address - base_ > bytes_.size() || n > bytes_.size() - (address - base_))
      return nullptr;
    return &bytes_[address - base_];
  }
  void enable_peek(bool on) { peek_ = on; }
  template <typename T>
  void put(uint64_t address, T value) {
    std::memcpy(&bytes_[address - base_], &value, sizeof value);
  }

 protected:
  memscope::IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned) override {
    memscope::IoResult result;
    if (address < base_ || address - base_ > bytes_.size() || n > bytes_.size() - (address - base_)) {
      result.fault = memscope::Fault{address, "flat", "not mapped"};
      return result;
    }
    std::memcpy(buffer, &bytes_[address - base_], n);
    result.done = n;
    return result;
  }

 private:
  uint64_t base_;
  std::vector<uint8_t> bytes_;
  bool peek_ = false;
};

void bench_objects(const memscope::Profile& profile) {
  using memscope::Object;
  const size_t kTasks = 20000;
  const memscope::TypeInfo& task_type = profile.require_type("task_struct");
  const uint64_t stride = (task_type.size + 63) & ~uint64_t(63);
  const uint64_t base = 0xffff888000000000ull;
  const uint64_t tasks = profile.offset_of("task_struct", "tasks");
  const uint64_t next = profile.offset_of("list_head", "next");
  const uint64_t pid = profile.offset_of("task_struct", "pid");
  const uint64_t comm = profile.offset_of("task_struct", "comm");
  FlatSpace space(base, stride * (kTasks + 1));
  // Task 0 is the list head (init_task); tasks 1..N follow it in a ring.
  for (size_t i = 0; i <= kTasks; ++i) {
    uint64_t at = base + i * stride;
    space.put<uint64_t>(at + tasks + next, base + ((i + 1) % (kTasks + 1)) * stride + tasks);
    space.put<int32_t>(at + pid, int32_t(i));
    space.put<char>(at + comm, 'a' + char(i % 26));
  }
  Object head(profile, space, task_type.id, base);

  auto run = [&](const char* label, auto&& body) {
    double cpu_start = cpu_seconds();
    int64_t checksum = 0;
    const int kRounds = 10;
    for (int round = 0; round < kRounds; ++round)
      for (Object task : memscope::list_entries(head["tasks"], "task_struct", "tasks")) checksum += body(task);
    double seconds = cpu_seconds() - cpu_start;
    std::printf("  %-34s %6.0f ns CPU per task (checksum %lld)\n", label, seconds / (kTasks * kRounds) * 1e9,
                static_cast<long long>(checksum));
  };
  memscope::FieldRef pid_field = profile.field("task_struct", "pid");
  memscope::FieldRef comm_field = profile.field("task_struct", "comm");
  for (bool peek : {false, true}) {
    space.enable_peek(peek);
    std::printf("object API, walking %zu synthetic tasks (list walk + reads), %s:\n", kTasks,
                peek ? "space with peek()" : "space without peek()");
    run("walk only", [](const Object&) { return int64_t(1); });
    run("task[\"pid\"] + task[\"comm\"]", [](const Object& t) {
      return int64_t(t["pid"].value<int>()) + int64_t(t["comm"].as_string().size());
    });
    run("FieldRef pid + comm", [&](const Object& t) {
      return int64_t(t[pid_field].value<int>()) + int64_t(t[comm_field].as_string().size());
    });
    run("FieldRef pid only", [&](const Object& t) { return int64_t(t[pid_field].value<int>()); });
  }
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

  std::vector<double> times, cpu_times;
  for (int i = 0; i < 10; ++i) {
    start = std::chrono::steady_clock::now();
    double cpu_before = cpu_seconds();
    auto cached = cache.load(memscope::source_key(path), &why);
    times.push_back(seconds_since(start));
    cpu_times.push_back(cpu_seconds() - cpu_before);
    if (!cached) {
      std::fprintf(stderr, "cache load failed: %s\n", why.c_str());
      return 1;
    }
  }
  std::sort(times.begin(), times.end());
  std::sort(cpu_times.begin(), cpu_times.end());
  std::printf("cached load:         %.1f ms wall median, %.1f ms min; %.1f ms CPU median (10 runs, key included)\n",
              times[times.size() / 2] * 1e3, times.front() * 1e3, cpu_times[cpu_times.size() / 2] * 1e3);

  start = std::chrono::steady_clock::now();
  cpu_start = cpu_seconds();
  memscope::IsfSummary summary = memscope::read_isf_summary(path);
  std::printf("banner-only scan:    %.3f s wall, %.3f s CPU (%s)\n", seconds_since(start), cpu_seconds() - cpu_start,
              summary.banner.empty() ? "no banner" : "banner found");

  bench_objects(*profile);

  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  return 0;
}
