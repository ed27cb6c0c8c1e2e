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
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
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

// A fresh process of the command as users run it, output to /dev/null.
struct Whole {
  double wall_ms = 0, cpu_ms = 0, peak_rss_mib = 0;
};

Whole run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  const auto start = Clock::now();
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) throw std::runtime_error("cannot run " + argv[0]);
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) < 0) throw std::runtime_error("wait4 failed");
  Whole out;
  out.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  out.cpu_ms = ms(usage.ru_utime) + ms(usage.ru_stime);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) throw std::runtime_error(argv[1] + " failed on " + argv[3]);
  return out;
}

// Medians of wall and CPU time (each on its own) over `runs` fresh
// processes after a warm-up; the largest peak RSS.
Whole whole_process(const std::vector<std::string>& argv, int runs) {
  run_process(argv);
  std::vector<double> wall, cpu;
  Whole out;
  for (int i = 0; i < runs; ++i) {
    Whole w = run_process(argv);
    wall.push_back(w.wall_ms);
    cpu.push_back(w.cpu_ms);
    out.peak_rss_mib = std::max(out.peak_rss_mib, w.peak_rss_mib);
  }
  std::sort(wall.begin(), wall.end());
  std::sort(cpu.begin(), cpu.end());
  out.wall_ms = wall[wall.size() / 2];
  out.cpu_ms = cpu[cpu.size() / 2];
  return out;
}

// psscan with and without the carve on `image`, as one Markdown row.
std::string psscan_row(const std::string& cli, const std::string& label, const std::string& image,
                       const std::string& profile, int runs) {
  const std::vector<std::string> argv = {cli, "linux.psscan", "-f", image, "-p", profile, "-o", "json"};
  std::vector<std::string> no_carve = argv;
  no_carve.push_back("--no-carve");
  const Whole with = whole_process(argv, runs), without = whole_process(no_carve, runs);
  return "| " + label + " | " + fixed(with.wall_ms, 1) + " | " + fixed(with.cpu_ms, 1) + " | " +
         fixed(with.peak_rss_mib, 1) + " | " + fixed(without.wall_ms, 1) + " | " + fixed(without.cpu_ms, 1) + " | " +
         fixed(without.peak_rss_mib, 1) + " |";
}

std::string default_cli() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

std::unique_ptr<Session> open(const std::string& image, const std::string& profile) {
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  auto session = std::make_unique<Session>(options);
  session->kernel();
  return session;
}

// `source` repeated `times` times, written densely, through a 1 MiB
// buffer (a copy of the whole image would raise this process's peak RSS,
// which the children it spawns inherit in their ru_maxrss).
void make_repeated(const std::string& source, const std::string& out, int times) {
  int in = ::open(source.c_str(), O_RDONLY);
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || fd < 0) throw std::runtime_error("cannot open " + source + " or " + out);
  const off_t size = ::lseek(in, 0, SEEK_END);
  std::vector<char> buffer(1 << 20);
  for (int i = 0; i < times; ++i)
    for (off_t at = 0; at < size;) {
      const ssize_t n = ::pread(in, buffer.data(), buffer.size(), at);
      if (n <= 0) throw std::runtime_error("cannot read " + source);
      if (::write(fd, buffer.data(), static_cast<size_t>(n)) != n) throw std::runtime_error("cannot write " + out);
      at += n;
    }
  ::close(in);
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
  std::string image, profile, workdir = "/tmp", cli = default_cli();
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
    else if (a == "--cli") cli = next();
    else if (a == "--sparse-gib") sparse_gib = std::stoull(next());
    else if (a == "--repeat-list") {
      repeats.clear();
      std::stringstream list(next());
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
        make_repeated(image, path, times);
        targets.push_back({name + " x" + std::to_string(times) + " (dense copy)", path, true});
      }
    if (sparse_gib > 0) {
      const std::string path = workdir + "/bench_rootkit-sparse.raw";
      make_sparse(image, path, sparse_gib << 30);
      targets.push_back({std::to_string(sparse_gib) + " GiB sparse", path, true});
    }

    // Fresh processes first, while this one is small (see make_repeated).
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
      auto session = open(t.path, profile);
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
          times.push_back(std::chrono::duration<double, std::milli>(Clock::now() - start).count());
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
