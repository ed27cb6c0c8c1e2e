// Speed of the process-memory plugins on an image, as users run them:
//
//  - linux.maps for every process: the wall and CPU time of a fresh
//    `memscope linux.maps -f IMAGE -p PROFILE -o json` process (median and
//    range over --runs runs after one warm-up run that fills the profile
//    cache and the page cache), its peak RSS, and run_plugin alone in this
//    process (median), with the number of VMAs listed;
//  - linux.proc_dump of every process that has user memory (or --pid):
//    a fresh `memscope linux.proc_dump ... --dump-dir DIR --force` process
//    each run, and the bytes it wrote per second (the files' logical
//    size: pages not in the image are holes, hashed but not written); also
//    run_plugin alone, which is the dump's own rate without the process's
//    start, profile and discovery.
//
//   bench_process_memory --image IMAGE --profile PROFILE [--runs 11]
//                        [--cli build/memscope] [--workdir /tmp] [--pid N]...
//
// Prints Markdown; figures are recorded in docs/performance.md.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "core/session/session.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct ProcessRun {
  bool ok = false;
  double ms = 0, cpu_ms = 0, peak_rss_mib = 0;
};

double timeval_ms(const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

// The command with stdout and stderr to /dev/null: wall time, CPU time
// (user + system, from wait4's rusage) and peak RSS.
ProcessRun run_process(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  auto start = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ProcessRun out;
  if (rc != 0) return out;
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) < 0) return out;
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  out.cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

struct Stats {
  double min = 0, median = 0, max = 0;
};
Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
}
std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}
std::string range(const Stats& s, int digits) {
  return fixed(s.median, digits) + " (" + fixed(s.min, digits) + "-" + fixed(s.max, digits) + ")";
}

struct Repeated {
  Stats wall, cpu;
  double peak_rss_mib = 0;
};

// Fresh processes: one warm-up, then `runs` measured.
Repeated repeat(const std::vector<std::string>& argv, int runs) {
  if (!run_process(argv).ok) throw std::runtime_error("the command failed: " + argv[1]);
  std::vector<double> wall, cpu;
  Repeated out;
  for (int i = 0; i < runs; ++i) {
    ProcessRun r = run_process(argv);
    if (!r.ok) throw std::runtime_error("the command failed: " + argv[1]);
    wall.push_back(r.ms);
    cpu.push_back(r.cpu_ms);
    out.peak_rss_mib = std::max(out.peak_rss_mib, r.peak_rss_mib);
  }
  out.wall = stats(wall);
  out.cpu = stats(cpu);
  return out;
}

std::string default_cli() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

double cpu_now_ms() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
}

struct Alone {
  double ms = 0, cpu_ms = 0;  // medians
};

// run_plugin alone, in a session whose image is open, profile loaded and
// kernel found: the medians of `runs` (wall, and CPU time, which a busy
// machine does not inflate), and the last table.
Alone plugin_alone(memscope::Session& session, const std::string& name, const memscope::PluginArgs& args, int runs,
                   memscope::Table& table) {
  using namespace memscope;
  std::vector<double> times, cpu;
  for (int i = 0; i < runs; ++i) {
    double c0 = cpu_now_ms();
    PluginResult r = run_plugin(*find_plugin(name), session, args);
    cpu.push_back(cpu_now_ms() - c0);
    if (!r.ok) throw std::runtime_error(name + ": " + r.error);
    times.push_back(std::chrono::duration<double, std::milli>(r.elapsed).count());
    table = std::move(r.table);
  }
  return {stats(times).median, stats(cpu).median};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace memscope;
  std::string image, profile, cli = default_cli(), workdir = "/tmp";
  std::vector<std::string> pids;
  int runs = 11;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--image") image = next();
    else if (a == "--profile") profile = next();
    else if (a == "--cli") cli = next();
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--workdir") workdir = next();
    else if (a == "--pid") pids.push_back(next());
    else {
      std::cerr << "usage: bench_process_memory --image IMAGE --profile PROFILE [--runs N] [--cli PATH] "
                   "[--workdir DIR] [--pid N]...\n";
      return 2;
    }
  }
  if (image.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_process_memory: give --image and --profile\n";
    return 2;
  }
  try {
    const std::string dump_dir = workdir + "/bench_process_memory-" + std::to_string(::getpid());
    fs::create_directories(dump_dir);
    // Every fresh process first, while this one is small (a child's peak
    // RSS counts what it shares with its parent until exec).
    Repeated maps = repeat({cli, "linux.maps", "-f", image, "-p", profile, "-o", "json"}, runs);

    SessionOptions options;
    options.image = image;
    options.profile = profile;
    Session session(options);
    session.kernel();
    Table table;
    Alone maps_alone = plugin_alone(session, "linux.maps", {}, runs, table);
    const size_t vmas = table.rows.size();
    std::vector<std::string> all;
    for (const Row& row : table.rows) {
      std::string pid = std::to_string(std::get<int64_t>(row.cells.at(table.column_index("pid"))));
      if (all.empty() || all.back() != pid) all.push_back(pid);
    }
    if (pids.empty()) pids = all;
    std::string pid_list;
    for (const std::string& p : pids) pid_list += (pid_list.empty() ? "" : ",") + p;

    PluginArgs dump_args;
    dump_args.add("pid", pid_list);
    dump_args.add("dump-dir", dump_dir);
    dump_args.set_flag("force");
    Alone dump_alone = plugin_alone(session, "linux.proc_dump", dump_args, runs, table);
    uint64_t bytes = 0, zero_pages = 0;
    for (const Row& row : table.rows) {
      bytes += std::get<uint64_t>(row.cells.at(table.column_index("bytes")));
      zero_pages += std::get<uint64_t>(row.cells.at(table.column_index("zero_pages")));
    }
    Repeated dump = repeat({cli, "linux.proc_dump", "-f", image, "-p", profile, "--pid", pid_list, "--dump-dir",
                            dump_dir, "--force", "-o", "json"},
                           runs);
    fs::remove_all(dump_dir);

    const double mib = static_cast<double>(bytes) / (1 << 20);
    std::cout << "Image " << fs::path(image).filename().string() << ", " << runs
              << " fresh processes after one warm-up; ms as median (min-max).\n\n"
              << "| plugin | work | end to end, ms | CPU, ms | peak RSS, MiB | plugin alone, ms (CPU ms) | rate |\n"
              << "|---|---|---|---|---|---|---|\n"
              << "| maps | " << all.size() << " processes, " << vmas << " VMAs | " << range(maps.wall, 1) << " | "
              << range(maps.cpu, 1) << " | " << fixed(maps.peak_rss_mib, 1) << " | " << fixed(maps_alone.ms, 2)
              << " (" << fixed(maps_alone.cpu_ms, 2) << ") | " << fixed(vmas / (maps_alone.ms / 1e3) / 1e3, 0)
              << "k VMAs/s alone |\n"
              << "| proc_dump | --pid " << pid_list << ": " << table.rows.size() << " files, " << fixed(mib, 1)
              << " MiB (" << zero_pages << " pages not in the image) | " << range(dump.wall, 1) << " | "
              << range(dump.cpu, 1) << " | " << fixed(dump.peak_rss_mib, 1) << " | " << fixed(dump_alone.ms, 2)
              << " (" << fixed(dump_alone.cpu_ms, 2) << ") | " << fixed(mib / (dump.wall.median / 1e3), 0)
              << " MiB/s end to end (" << fixed(mib / (dump.cpu.median / 1e3), 0) << " per CPU-s), "
              << fixed(mib / (dump_alone.ms / 1e3), 0) << " MiB/s alone (" << fixed(mib / (dump_alone.cpu_ms / 1e3), 0)
              << " per CPU-s) |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_process_memory: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
