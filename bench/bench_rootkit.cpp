// Speed of the task_struct carve (core/linux/task_carver.h) that psscan
// and hidden_processes run over physical memory, on the scanning engine:
//
//  - psscan end to end: a fresh `memscope linux.psscan -f IMAGE -p
//    PROFILE -o json` process, with the carve and with --no-carve, median
//    wall time and median CPU time (user + system of the whole process,
//    every thread, from wait4) over --runs runs after a warm-up, and peak
//    RSS: what users wait for, and on a busy machine the CPU time that does
//    not depend on the load;
//  - the carve alone, in this process: wall time (median of --runs after a
//    warm-up that fills the page cache), the CPU time it used, GB/s of wall
//    time and GB per CPU-second (per core: meaningful on a busy machine),
//    beside the engine alone over the same bytes (a chunk visitor that
//    looks at nothing), with 1 thread and every core on IMAGE, and what
//    psscan's other views cost;
//  - both on dense copies of IMAGE repeated --repeat-list times (scaling
//    with the image's size; x1 is a plain copy, written like the others)
//    and on a sparse image: IMAGE's non-zero pages, then a hole up to
//    --sparse-gib GiB (16 by default), whose holes are skipped unread. The
//    copies are written in --workdir and deleted at the end.
//
//   bench_rootkit --image image.raw --profile isf.json.xz [--runs 7]
//                 [--workdir /tmp] [--repeat-list 1,2,4,8] [--sparse-gib 16]
//                 [--cli build/memscope]
//
// The other rootkit plugins end to end are measured by bench_plugins
// --plugin linux.hidden_modules ... (see docs/performance.md).
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/clocks.h"
#include "bench/support/command_line.h"
#include "bench/support/image_copies.h"
#include "bench/support/plugin_alone.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"
#include "bench/support/timing.h"
#include "core/linux/task_carver.h"
#include "core/linux/task_views.h"
#include "core/session/session.h"

namespace {

using namespace memscope;
using namespace memscope::linux_kernel;
using namespace memscope::bench;

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
    CarveResult r;
    const Elapsed elapsed =
        time_once([&] { r = carver.carve(session.physical(), direct_map, warnings, options); }, CpuTime::whole_process);
    Measure m;
    m.wall_ms = elapsed.wall_s * 1e3;
    m.cpu_s = elapsed.cpu_s;
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
    ScanStats stats;
    const Elapsed elapsed =
        time_once([&] { stats = scan_chunks(session.physical(), nothing, {}, options); }, CpuTime::whole_process);
    Measure m;
    m.wall_ms = elapsed.wall_s * 1e3;
    m.cpu_s = elapsed.cpu_s;
    m.bytes = stats.bytes_scanned;
    m.skipped = stats.bytes_skipped;
    results.emplace_back(m.wall_ms, m);
  }
  std::sort(results.begin(), results.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return results[results.size() / 2].second;
}

// psscan with and without the carve on `image`, as one Markdown row.
std::string psscan_row(const std::string& cli, const std::string& label, const std::string& image,
                       const std::string& profile, int runs) {
  const std::vector<std::string> argv = {cli, "linux.psscan", "-f", image, "-p", profile, "-o", "json"};
  std::vector<std::string> no_carve = argv;
  no_carve.push_back("--no-carve");
  const Repeated with = repeat_process(argv, runs, {.must_succeed = true});
  const Repeated without = repeat_process(no_carve, runs, {.must_succeed = true});
  return "| " + label + " | " + fixed(with.wall_ms.median, 1) + " | " + fixed(with.cpu_ms.median, 1) + " | " +
         fixed(with.peak_rss_mib, 1) + " | " + fixed(without.wall_ms.median, 1) + " | " +
         fixed(without.cpu_ms.median, 1) + " | " + fixed(without.peak_rss_mib, 1) + " |";
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
  std::string image, profile, workdir = "/tmp", cli = default_cli();
  int runs = 7;
  std::vector<int> repeats = {1, 2, 4, 8};
  uint64_t sparse_gib = 16;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& a = args.current();
    if (a == "--image") image = args.value();
    else if (a == "--profile") profile = args.value();
    else if (a == "--runs") runs = std::stoi(args.value());
    else if (a == "--workdir") workdir = args.value();
    else if (a == "--cli") cli = args.value();
    else if (a == "--sparse-gib") sparse_gib = std::stoull(args.value());
    else if (a == "--repeat-list") {
      repeats.clear();
      std::stringstream list(args.value());
      for (std::string n; std::getline(list, n, ',');) repeats.push_back(std::stoi(n));
    } else {
      std::cerr << "usage: bench_rootkit --image RAW --profile ISF [--runs N] [--workdir DIR] [--repeat-list 1,2,4] "
                   "[--sparse-gib N] [--cli PATH]\n";
      return 2;
    }
  }
  if (image.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_rootkit: give --image and --profile\n";
    return 2;
  }
  try {
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const std::string name = std::filesystem::path(image).filename();
    // The images: the given one, dense copies of it repeated, a sparse one.
    struct Target {
      std::string label, path;
      bool made = false;
    };
    std::vector<Target> targets{{name, image}};
    for (int times : repeats)
      if (times >= 1) {
        const std::string path = workdir + "/bench_rootkit-x" + std::to_string(times) + ".raw";
        // 1 MiB writes, as the published figures were taken (see make_dense_copy).
        make_dense_copy(image, path, static_cast<uint64_t>(times) * std::filesystem::file_size(image), size_t{1} << 20);
        targets.push_back({name + " x" + std::to_string(times) + " (dense copy)", path, true});
      }
    if (sparse_gib > 0) {
      const std::string path = workdir + "/bench_rootkit-sparse.raw";
      make_sparse_copy(image, path, sparse_gib << 30);
      targets.push_back({std::to_string(sparse_gib) + " GiB sparse", path, true});
    }

    // Fresh processes first, while this one is small (see process_run.h).
    std::cout << "psscan end to end: " << cli << " linux.psscan -f IMAGE -p PROFILE -o json [--no-carve], a fresh "
              << "process each run; median wall ms and median CPU ms (user + system, every thread) of " << runs
              << " runs after a warm-up; peak RSS, MiB (largest).\n\n"
              << "| image | wall ms | CPU ms | peak RSS | --no-carve: wall ms | CPU ms | peak RSS |\n"
              << "|---|---|---|---|---|---|---|\n";
    for (const Target& t : targets) std::cout << psscan_row(cli, t.label, t.path, profile, runs) << std::endl;

    std::cout << "\nCarve of physical memory for task_structs (TaskCarver::carve), in this process, median of " << runs
              << " runs after a warm-up; CPU ms of that run (every thread); GB/s of wall time; GB per CPU-second; "
                 "MiB scanned and skipped (holes); candidates / validated tasks. The engine alone: a chunk visitor "
                 "that looks at nothing (mapping, populating and releasing the pages).\n\n"
              << "| image | threads | wall ms | CPU ms | GB/s | GB/CPU-s | MiB scanned | MiB skipped | candidates / tasks |\n"
              << "|---|---|---|---|---|---|---|---|---|\n";
    for (size_t i = 0; i < targets.size(); ++i) {
      const Target& t = targets[i];
      auto session = open_session(t.path, profile);
      if (i == 0) std::cout << row(t.label, 1, carve(*session, 1, runs)) << std::endl;
      std::cout << row(t.label, cores, carve(*session, cores, runs)) << std::endl;
      std::cout << row(t.label + ": the engine alone", cores, engine_alone(*session, cores, runs)) << std::endl;
      if (i == 0) {
        // psscan's other views, for comparison: the kernel's own structures.
        KernelView view = kernel_view(*session);
        std::vector<double> times;
        for (int r = 0; r < runs + 1; ++r) {
          Warnings warnings;
          auto start = Clock::now();
          TaskViewOptions options;
          options.carve = false;
          scan_tasks(view, warnings, options);
          times.push_back(ms_since(start));
        }
        std::sort(times.begin() + 1, times.end());
        std::cout << "|  | psscan's other views (task list, PID table, runqueues, children; tasks read): "
                  << fixed(times[1 + runs / 2], 2) << " ms | | | | | | | |" << std::endl;
      }
    }
    for (const Target& t : targets)
      if (t.made) std::filesystem::remove(t.path);
  } catch (const std::exception& e) {
    std::cerr << "bench_rootkit: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
