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
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/command_line.h"
#include "bench/support/plugin_alone.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

using namespace memscope::bench;

namespace {

namespace fs = std::filesystem;

}  // namespace

int main(int argc, char** argv) {
  using namespace memscope;
  std::string image, profile, cli = default_cli(), workdir = "/tmp";
  std::vector<std::string> pids;
  int runs = 11;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& a = args.current();
    if (a == "--image") image = args.value();
    else if (a == "--profile") profile = args.value();
    else if (a == "--cli") cli = args.value();
    else if (a == "--runs") runs = std::stoi(args.value());
    else if (a == "--workdir") workdir = args.value();
    else if (a == "--pid") pids.push_back(args.value());
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
    const Repeated maps =
        repeat_process({cli, "linux.maps", "-f", image, "-p", profile, "-o", "json"}, runs, {.must_succeed = true});

    std::unique_ptr<Session> session = open_session(image, profile);
    const PluginAlone maps_alone = time_plugin_alone(*session, "linux.maps", {}, runs);
    const Table& table = maps_alone.last_table;
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
    const PluginAlone dump_alone = time_plugin_alone(*session, "linux.proc_dump", dump_args, runs);
    const Table& files = dump_alone.last_table;
    uint64_t bytes = 0, zero_pages = 0;
    for (const Row& row : files.rows) {
      bytes += std::get<uint64_t>(row.cells.at(files.column_index("bytes")));
      zero_pages += std::get<uint64_t>(row.cells.at(files.column_index("zero_pages")));
    }
    const Repeated dump = repeat_process({cli, "linux.proc_dump", "-f", image, "-p", profile, "--pid", pid_list,
                                          "--dump-dir", dump_dir, "--force", "-o", "json"},
                                         runs, {.must_succeed = true});
    fs::remove_all(dump_dir);

    const double mib = static_cast<double>(bytes) / (1 << 20);
    std::cout << "Image " << fs::path(image).filename().string() << ", " << runs
              << " fresh processes after one warm-up; ms as median (min-max).\n\n"
              << "| plugin | work | end to end, ms | CPU, ms | peak RSS, MiB | plugin alone, ms (CPU ms) | rate |\n"
              << "|---|---|---|---|---|---|---|\n"
              << "| maps | " << all.size() << " processes, " << vmas << " VMAs | " << median_and_range(maps.wall_ms, 1)
              << " | " << median_and_range(maps.cpu_ms, 1) << " | " << fixed(maps.peak_rss_mib, 1) << " | "
              << fixed(maps_alone.wall_ms.median, 2) << " (" << fixed(maps_alone.cpu_ms.median, 2) << ") | "
              << fixed(vmas / (maps_alone.wall_ms.median / 1e3) / 1e3, 0) << "k VMAs/s alone |\n"
              << "| proc_dump | --pid " << pid_list << ": " << files.rows.size() << " files, " << fixed(mib, 1)
              << " MiB (" << zero_pages << " pages not in the image) | " << median_and_range(dump.wall_ms, 1) << " | "
              << median_and_range(dump.cpu_ms, 1) << " | " << fixed(dump.peak_rss_mib, 1) << " | "
              << fixed(dump_alone.wall_ms.median, 2) << " (" << fixed(dump_alone.cpu_ms.median, 2) << ") | "
              << fixed(mib / (dump.wall_ms.median / 1e3), 0) << " MiB/s end to end ("
              << fixed(mib / (dump.cpu_ms.median / 1e3), 0) << " per CPU-s), "
              << fixed(mib / (dump_alone.wall_ms.median / 1e3), 0) << " MiB/s alone ("
              << fixed(mib / (dump_alone.cpu_ms.median / 1e3), 0) << " per CPU-s) |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_process_memory: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
