// Whole-process cost of `memscope report`, as pipelines run it.
//
//   bench_report --image IMG [--image IMG ...] --profile ISF [--runs N] [--cli PATH]
//
// Fresh processes, one warm-up run (which fills the page cache and the
// profile cache), then --runs runs (default 7): median wall ms, median CPU
// ms (user + sys, from wait4) and the largest peak RSS (ru_maxrss), of
//   memscope report --all -f IMG -p ISF [--no-hash]        for the first image
//   memscope report --all -f IMG1 -f IMG2 ... -p ISF -j 1   every image, one at a time
//   memscope report --all -f IMG1 -f IMG2 ... -p ISF -j 2   two at a time
// with the batch's throughput in images per minute. The documents go to
// stdout (JSONL), which is /dev/null here. Every run must exit 0.
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/command_line.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"

using namespace memscope::bench;

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string profile, cli = default_cli();
  int runs = 7;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& arg = args.current();
    if (arg == "--image") images.push_back(args.value());
    else if (arg == "--profile") profile = args.value();
    else if (arg == "--runs") runs = std::stoi(args.value());
    else if (arg == "--cli") cli = args.value();
    else {
      std::cerr << "usage: bench_report --image IMG [--image IMG ...] --profile ISF [--runs N] [--cli PATH]\n";
      return 2;
    }
  }
  if (images.empty() || profile.empty()) {
    std::cerr << "bench_report: --image and --profile are required\n";
    return 2;
  }
  try {
    std::cout << "| command | wall ms (median) | CPU ms (median) | peak RSS MiB | images/min |\n|---|---|---|---|---|\n";
    for (bool hash : {true, false}) {
      std::vector<std::string> args{cli, "report", "--all", "-f", images[0], "-p", profile, "-q"};
      if (!hash) args.push_back("--no-hash");
      const Repeated m = repeat_process(args, runs, {.must_succeed = true});
      std::cout << "| `report --all -f " << std::filesystem::path(images[0]).filename().string()
                << (hash ? "" : " --no-hash") << "` | " << fixed(m.wall_ms.median, 0) << " | "
                << fixed(m.cpu_ms.median, 0) << " | " << fixed(m.peak_rss_mib, 1) << " | "
                << fixed(60000.0 / m.wall_ms.median, 0) << " |\n";
    }
    for (const char* jobs : {"1", "2"}) {
      std::vector<std::string> args{cli, "report", "--all", "-p", profile, "-q", "-j", jobs};
      std::string names;
      for (const std::string& image : images) {
        args.insert(args.end(), {"-f", image});
        names += (names.empty() ? "" : ", ") + std::filesystem::path(image).filename().string();
      }
      const Repeated m = repeat_process(args, runs, {.must_succeed = true});
      std::cout << "| `report --all -j " << jobs << "` over " << images.size() << " images (" << names << ") | "
                << fixed(m.wall_ms.median, 0) << " | " << fixed(m.cpu_ms.median, 0) << " | "
                << fixed(m.peak_rss_mib, 1) << " | "
                << fixed(static_cast<double>(images.size()) * 60000.0 / m.wall_ms.median, 0) << " |\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_report: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
