// Speed of the task_struct carve (core/linux/task_carver.h) that psscan
// and hidden_processes run over physical memory, on the scanning engine:
//
//  - on IMAGE: the carve alone, in this process, with 1 thread and with
//    every core: wall time (median of --runs after a warm-up that fills the
//    page cache), the CPU time it used, GB/s of wall time and GB per
//    CPU-second (per core: meaningful on a busy machine), and what psscan's
//    other views cost beside it;
//  - scaling with the image's size: dense raw images of IMAGE repeated
//    --repeat-list times (written in --workdir, read once into the page
//    cache, deleted at the end), carved with every core;
//  - a sparse image: IMAGE followed by a hole up to --sparse-gib GiB (16 by
//    default), carved with every core: holes are skipped unread.
//
//   bench_rootkit --image image.raw --profile isf.json.xz [--runs 7]
//                 [--workdir /tmp] [--repeat-list 1,2,4,8] [--sparse-gib 16]
//
// The plugins end to end (a fresh process each run) are measured by
// bench_plugins --plugin linux.psscan ... (see docs/performance.md).
#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "core/linux/task_carver.h"
#include "core/linux/task_views.h"
#include "core/session/session.h"

namespace {

using namespace memscope;
using namespace memscope::linux_kernel;
using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
  return seconds(usage.ru_utime) + seconds(usage.ru_stime);
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

struct Measure {
  double wall_ms = 0;  // median
  double cpu_s = 0;    // of the median run
  uint64_t bytes = 0, skipped = 0;
  size_t tasks = 0;
  uint64_t candidates = 0;
};

// The carve of `session`'s physical memory, `runs` times after one warm-up.
Measure carve(Session& session, unsigned threads, int runs) {
  KernelView view = kernel_view(session);
  TaskViews views(view);
  Warnings warnings;
  TaskCarver carver(view);
  std::vector<TaskSighting> none;
  const uint64_t direct_map = views.direct_map(none, warnings).value_or(0);
  CarveOptions options;
  options.threads = threads;
  options.cancel = nullptr;
  carver.carve(session.physical(), direct_map, warnings, options);  // warm-up: page cache
  std::vector<std::pair<double, Measure>> results;
  for (int i = 0; i < runs; ++i) {
    const double cpu = cpu_seconds();
    const auto start = Clock::now();
    CarveResult r = carver.carve(session.physical(), direct_map, warnings, options);
    Measure m;
    m.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    m.cpu_s = cpu_seconds() - cpu;
    m.bytes = r.stats.bytes_scanned;
    m.skipped = r.stats.bytes_skipped;
    m.tasks = r.tasks.size();
    m.candidates = r.candidates;
    results.emplace_back(m.wall_ms, m);
  }
  std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return results[results.size() / 2].second;
}

// The engine alone over the same bytes: a chunk visitor that looks at
// nothing (mapping, populating, releasing the pages), for comparison.
Measure engine_alone(Session& session, unsigned threads, int runs) {
  ScanOptions options;
  options.threads = threads;
  options.cancel = nullptr;
  auto nothing = [](const ScanChunk&, CandidateSink&) {};
  scan_chunks(session.physical(), nothing, {}, options);
  std::vector<std::pair<double, Measure>> results;
  for (int i = 0; i < runs; ++i) {
    const double cpu = cpu_seconds();
    const auto start = Clock::now();
    ScanStats stats = scan_chunks(session.physical(), nothing, {}, options);
    Measure m;
    m.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
    m.cpu_s = cpu_seconds() - cpu;
    m.bytes = stats.bytes_scanned;
    m.skipped = stats.bytes_skipped;
    results.emplace_back(m.wall_ms, m);
  }
  std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return results[results.size() / 2].second;
}

std::unique_ptr<Session> open(const std::string& image, const std::string& profile) {
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  auto session = std::make_unique<Session>(options);
  session->kernel();
  return session;
}

// `source` repeated `times` times, written densely.
void make_repeated(const std::string& source, const std::string& out, int times) {
  std::vector<char> bytes;
  {
    int in = ::open(source.c_str(), O_RDONLY);
    if (in < 0) throw std::runtime_error("cannot open " + source);
    bytes.resize(static_cast<size_t>(::lseek(in, 0, SEEK_END)));
    if (::pread(in, bytes.data(), bytes.size(), 0) != static_cast<ssize_t>(bytes.size()))
      throw std::runtime_error("cannot read " + source);
    ::close(in);
  }
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw std::runtime_error("cannot create " + out);
  for (int i = 0; i < times; ++i)
    if (::write(fd, bytes.data(), bytes.size()) != static_cast<ssize_t>(bytes.size()))
      throw std::runtime_error("cannot write " + out);
  ::close(fd);
}

// `source`'s bytes, its zero pages left as holes (cp --sparse=always),
// then a hole up to `size`.
void make_sparse(const std::string& source, const std::string& out, uint64_t size) {
  int in = ::open(source.c_str(), O_RDONLY);
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || fd < 0) throw std::runtime_error("cannot open " + source + " or " + out);
  std::vector<char> page(4096), zero(4096, 0);
  off_t offset = 0;
  for (ssize_t n; (n = ::pread(in, page.data(), page.size(), offset)) > 0; offset += n)
    if (std::memcmp(page.data(), zero.data(), static_cast<size_t>(n)) != 0 &&
        ::pwrite(fd, page.data(), static_cast<size_t>(n), offset) != n)
      throw std::runtime_error("cannot write " + out);
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("cannot extend " + out);
  ::close(in);
  ::close(fd);
}

std::string row(const std::string& label, unsigned threads, const Measure& m) {
  const double gb = static_cast<double>(m.bytes) / 1e9;
  return "| " + label + " | " + std::to_string(threads) + " | " + fixed(m.wall_ms, 1) + " | " + fixed(m.cpu_s * 1000, 1) +
         " | " + fixed(gb / (m.wall_ms / 1000), 2) + " | " + fixed(m.cpu_s > 0 ? gb / m.cpu_s : 0, 2) + " | " +
         fixed(static_cast<double>(m.bytes) / (1 << 20), 0) + " | " + fixed(static_cast<double>(m.skipped) / (1 << 20), 0) +
         " | " + std::to_string(m.candidates) + " / " + std::to_string(m.tasks) + " |";
}

}  // namespace

int main(int argc, char** argv) {
  std::string image, profile, workdir = "/tmp";
  int runs = 7;
  std::vector<int> repeats = {1, 2, 4, 8};
  uint64_t sparse_gib = 16;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--image") image = next();
    else if (a == "--profile") profile = next();
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--workdir") workdir = next();
    else if (a == "--sparse-gib") sparse_gib = std::stoull(next());
    else if (a == "--repeat-list") {
      repeats.clear();
      std::stringstream list(next());
      for (std::string n; std::getline(list, n, ',');) repeats.push_back(std::stoi(n));
    } else {
      std::cerr << "usage: bench_rootkit --image RAW --profile ISF [--runs N] [--workdir DIR] [--repeat-list 1,2,4] "
                   "[--sparse-gib N]\n";
      return 2;
    }
  }
  if (image.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_rootkit: give --image and --profile\n";
    return 2;
  }
  try {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    std::cout << "Carve of physical memory for task_structs (TaskCarver::carve), in this process, median of " << runs
              << " runs after a warm-up; CPU ms of that run (every thread); GB/s of wall time; GB per CPU-second; "
                 "MiB scanned and skipped (holes); candidates / validated tasks.\n\n"
              << "| image | threads | wall ms | CPU ms | GB/s | GB/CPU-s | MiB scanned | MiB skipped | candidates / tasks |\n"
              << "|---|---|---|---|---|---|---|---|---|\n";
    const std::string name = std::filesystem::path(image).filename();
    {
      auto session = open(image, profile);
      std::cout << row(name, 1, carve(*session, 1, runs)) << "\n";
      std::cout << row(name, cores, carve(*session, cores, runs)) << "\n";
      std::cout << row(name + ": the engine alone (a visitor that looks at nothing)", 1, engine_alone(*session, 1, runs))
                << "\n";
      // psscan's other views, for comparison: the kernel's own structures.
      KernelView view = kernel_view(*session);
      std::vector<double> times;
      for (int i = 0; i < runs + 1; ++i) {
        Warnings warnings;
        auto start = Clock::now();
        TaskViewOptions options;
        options.carve = false;
        scan_tasks(view, warnings, options);
        times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
      }
      std::sort(times.begin() + 1, times.end());
      std::cout << "|  | psscan's other views (task list, PID table, runqueues, children; tasks read): "
                << fixed(times[1 + runs / 2], 2) << " ms | | | | | | | |\n";
    }
    for (int times : repeats) {
      if (times <= 1) continue;
      const std::string path = workdir + "/bench_rootkit-x" + std::to_string(times) + ".raw";
      make_repeated(image, path, times);
      {
        auto session = open(path, profile);
        std::cout << row(name + " x" + std::to_string(times) + " (dense)", cores, carve(*session, cores, runs)) << "\n";
      }
      std::filesystem::remove(path);
    }
    if (sparse_gib > 0) {
      const std::string path = workdir + "/bench_rootkit-sparse.raw";
      make_sparse(image, path, sparse_gib << 30);
      {
        auto session = open(path, profile);
        std::cout << row(std::to_string(sparse_gib) + " GiB sparse", cores, carve(*session, cores, runs)) << "\n";
      }
      std::filesystem::remove(path);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_rootkit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
