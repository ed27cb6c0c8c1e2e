// Profile loading speed and memory.
//
//   bench_profile [--runs N] ISF-FILE
//   bench_profile [--runs N]      (uses $MEMSCOPE_FIXTURES/linux-6.1/isf.json.xz)
//
// 1. First load in this process: decompress + SAX parse + build, then
//    verifying and writing the binary cache entry.
// 2. Loading from the cache as users do it: a fresh process per run (this
//    program run again with --child), N runs, medians. The child measures,
//    inside itself, the time from the call to load_profile() until the
//    profile is ready, and how much its resident memory grew (VmRSS; the
//    mapped entry's pages count as file pages); then the same after the
//    lookups a pslist makes (types, member offsets, symbols). The parent
//    measures the whole process (spawn to exit) of children that load and
//    look up without measuring, and of children that do nothing.
// 3. Reading only the banner (what the finder does for a file it does not
//    know), then the typed-object API: a synthetic list of task_structs
//    (laid out with the profile's own offsets, in an in-memory address
//    space) walked while reading pid and comm, by member name and through
//    pre-resolved FieldRefs.
//
// The cache goes to a temporary directory: the user's cache is not touched.
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "bench/support/clocks.h"
#include "bench/support/process_run.h"
#include "bench/support/resident_memory.h"
#include "bench/support/statistics.h"
#include "core/types/object.h"
#include "core/types/profile.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/cache/profile_cache.h"

using namespace memscope::bench;

namespace {

// Resident KiB of the mappings whose path ends with `suffix` (/proc/self/smaps).
long mapped_resident_kib(const std::string& suffix) {
  std::ifstream smaps("/proc/self/smaps");
  std::string line;
  bool inside = false;
  long total = 0;
  while (std::getline(smaps, line)) {
    if (!line.empty() && std::isxdigit(static_cast<unsigned char>(line[0])) && line.find(' ') < line.find(':')) {
      inside = line.size() >= suffix.size() && line.compare(line.size() - suffix.size(), suffix.size(), suffix) == 0;
    } else if (inside && line.rfind("Rss:", 0) == 0) {
      total += std::atol(line.c_str() + 4);
    }
  }
  return total;
}

// --- The child: one fresh process, one load from the cache --------------------

// What linux.pslist asks of the profile; returns a checksum so that the
// compiler keeps it.
uint64_t pslist_lookups(const memscope::Profile& profile) {
  uint64_t sum = 0;
  const memscope::TypeInfo& task = profile.require_type("task_struct");
  for (const char* member : {"tasks", "pid", "tgid", "comm", "mm", "real_parent", "cred", "__state", "flags",
                             "start_time", "thread_group"})
    if (profile.find_member(task, member)) sum += profile.field(task, member).offset;
  for (const char* type : {"list_head", "mm_struct", "cred", "kuid_t", "signal_struct"})
    if (const memscope::TypeInfo* t = profile.find_type(type)) sum += t->size;
  sum += profile.offset_of("cred", "uid") + profile.offset_of("mm_struct", "pgd");
  for (const char* symbol : {"init_task", "linux_banner", "init_top_pgt", "_stext", "modules"})
    if (auto address = profile.symbol(symbol)) sum += *address;
  if (const memscope::SymbolInfo* s = profile.nearest_symbol(profile.symbol("init_task").value_or(0) + 64))
    sum += profile.name(*s).size();
  return sum;
}

// mode "measure": prints "ready_us rss_kib anon_kib file_kib lookups_us
// rss_after_kib entry_kib entry_after_kib sum" (reading /proc, which costs
// time of its own). Modes "load" and "none": load and look up, or do
// nothing, and print a line of zeros, for the whole-process timings.
int child(const std::string& isf, const std::string& cache_dir, const std::string& mode) {
  memscope::LoadOptions options;
  options.cache_dir = cache_dir;
  if (mode != "measure") {
    uint64_t sum = mode == "load" ? pslist_lookups(*memscope::load_profile(isf, options)) : 0;
    std::printf("0 0 0 0 0 0 0 0 %llu\n", static_cast<unsigned long long>(sum));
    return 0;
  }
  ResidentMemory before = resident_memory_now();
  auto start = Clock::now();
  auto profile = memscope::load_profile(isf, options);
  double ready = seconds_since(start);
  ResidentMemory loaded = resident_memory_now();
  long entry_loaded = mapped_resident_kib(".msprof");
  auto lookups_start = Clock::now();
  uint64_t sum = pslist_lookups(*profile);
  double lookups = seconds_since(lookups_start);
  ResidentMemory after = resident_memory_now();
  std::printf("%.1f %ld %ld %ld %.1f %ld %ld %ld %llu\n", ready * 1e6, loaded.total_kib - before.total_kib,
              loaded.anon_kib - before.anon_kib, loaded.file_kib - before.file_kib, lookups * 1e6,
              after.total_kib - before.total_kib, entry_loaded, mapped_resident_kib(".msprof"),
              static_cast<unsigned long long>(sum));
  return 0;
}

struct ChildRun {
  bool ok = false;
  double wall_ms = 0;
  std::vector<double> values;
};

// Runs this program again as a child; its wall time and the numbers it printed.
ChildRun run_child(const std::vector<std::string>& argv) {
  ProcessOptions options;
  options.capture_output = true;
  const ProcessRun run = run_process(argv, options);
  ChildRun out;
  out.wall_ms = run.wall_ms;
  std::istringstream in(run.output);
  for (double v; in >> v;) out.values.push_back(v);
  out.ok = run.ok && out.values.size() >= 9;
  return out;
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
    double cpu_start = process_cpu_seconds();
    int64_t checksum = 0;
    const int kRounds = 10;
    for (int round = 0; round < kRounds; ++round)
      for (Object task : memscope::list_entries(head["tasks"], "task_struct", "tasks")) checksum += body(task);
    double seconds = process_cpu_seconds() - cpu_start;
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
  if (argc == 5 && std::strcmp(argv[1], "--child") == 0)
    return child(argv[2], argv[3], argv[4]);
  std::string path;
  int runs = 15;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) runs = std::max(1, std::atoi(argv[++i]));
    else path = argv[i];
  }
  if (path.empty()) {
    if (const char* fixtures = std::getenv("MEMSCOPE_FIXTURES"))
      path = (fs::path(fixtures) / "linux-6.1" / "isf.json.xz").string();
  }
  if (path.empty() || !fs::exists(path)) {
    std::fprintf(stderr, "bench_profile: %s not found (give an ISF file)\n", path.c_str());
    return 2;
  }
  std::printf("ISF: %s (%ju bytes)\n", path.c_str(), uintmax_t(fs::file_size(path)));
  double rss_before = own_peak_rss_mib();

  auto start = Clock::now();
  double cpu_start = process_cpu_seconds();
  auto profile = memscope::parse_isf_file(path);
  double first = seconds_since(start);
  double first_cpu = process_cpu_seconds() - cpu_start;
  double rss_after = own_peak_rss_mib();
  std::printf("first load (parse):  %.3f s wall, %.3f s CPU, peak RSS %.1f MiB (%.1f MiB before)\n", first,
              first_cpu, rss_after, rss_before);
  std::printf("model: %zu types, %zu members, %zu enumerators, %zu symbols, %zu bytes\n", profile->types().size(),
              profile->member_count(), profile->enumerator_count(), profile->symbols().size(),
              profile->bytes().size());

  fs::path cache_dir = fs::temp_directory_path() / ("memscope-bench-cache-" + std::to_string(::getpid()));
  memscope::ProfileCache cache(cache_dir.string());
  memscope::SourceKey key = memscope::source_key(path);
  start = Clock::now();
  std::string why;
  if (!cache.store(key, *profile, &why)) {
    std::fprintf(stderr, "cache store failed: %s\n", why.c_str());
    return 1;
  }
  double store = seconds_since(start);
  std::printf("cache store:         %.1f ms (verify + write), entry %ju bytes\n", store * 1e3,
              uintmax_t(fs::file_size(cache.entry_path(key))));
  start = Clock::now();
  memscope::open_profile_file(cache.entry_path(key))->verify();
  std::printf("verify (mapped):     %.1f ms\n", seconds_since(start) * 1e3);

  // Fresh processes: one warm-up, then `runs` with and without the load.
  std::string self = fs::read_symlink("/proc/self/exe").string();
  std::vector<double> ready_us, rss_kib, anon_kib, file_kib, lookups_us, rss_after_kib, entry_kib, entry_after_kib,
      wall_load, wall_none;
  for (int i = 0; i <= runs; ++i) {
    ChildRun measured = run_child({self, "--child", path, cache_dir.string(), "measure"});
    ChildRun with = run_child({self, "--child", path, cache_dir.string(), "load"});
    ChildRun without = run_child({self, "--child", path, cache_dir.string(), "none"});
    if (!measured.ok || !with.ok || !without.ok) {
      std::fprintf(stderr, "bench_profile: a child failed\n");
      return 1;
    }
    if (i == 0) continue;  // warm-up
    ready_us.push_back(measured.values[0]);
    rss_kib.push_back(measured.values[1]);
    anon_kib.push_back(measured.values[2]);
    file_kib.push_back(measured.values[3]);
    lookups_us.push_back(measured.values[4]);
    rss_after_kib.push_back(measured.values[5]);
    entry_kib.push_back(measured.values[6]);
    entry_after_kib.push_back(measured.values[7]);
    wall_load.push_back(with.wall_ms);
    wall_none.push_back(without.wall_ms);
  }
  std::printf("cached load, a fresh process each run (median of %d):\n", runs);
  std::printf("  profile ready:     %.0f us (load_profile: stat, map, header checks), resident +%.0f KiB "
              "(anon +%.0f, file +%.0f, of which the mapped entry %.0f; the rest is code run for the first time)\n",
              median(ready_us), median(rss_kib), median(anon_kib), median(file_kib), median(entry_kib));
  std::printf("  pslist's lookups:  %.0f us more; resident +%.0f KiB in all after them (mapped entry %.0f KiB)\n",
              median(lookups_us), median(rss_after_kib), median(entry_after_kib));
  std::printf("  whole process:     %.2f ms loading and looking up, %.2f ms doing nothing (spawn to exit): "
              "the profile costs %.2f ms\n",
              median(wall_load), median(wall_none), median(wall_load) - median(wall_none));

  start = Clock::now();
  cpu_start = process_cpu_seconds();
  memscope::IsfSummary summary = memscope::read_isf_summary(path);
  std::printf("banner-only scan:    %.3f s wall, %.3f s CPU (%s)\n", seconds_since(start),
              process_cpu_seconds() - cpu_start, summary.banner.empty() ? "no banner" : "banner found");

  bench_objects(*profile);

  std::error_code ec;
  fs::remove_all(cache_dir, ec);
  return 0;
}
