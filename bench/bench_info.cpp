// Whole-process cost of `memscope info` against `linux.pslist` on images
// whose size is mostly holes: what a user pays for the first command they
// run on a 64 GiB (or 256 GiB) image.
//
//   bench_info --raw IMAGE.raw --profile ISF [--runs N] [--workdir DIR] [--cli PATH]
//              [--big-gib N] [--lz4-gib N] [--no-lz4]
//
// Builds in DIR (default /tmp), and deletes at the end:
// - a sparse raw image of --big-gib GiB (default 64): IMAGE's bytes with
//   its zero pages left as holes, then a hole to the end (what `cp
//   --sparse=always` and `truncate -s 64G` make);
// - the same at --lz4-gib GiB (default 16), converted to seekable LZ4 with
//   `memscope convert` (its zero chunks flagged in the seek table).
// On each, fresh processes, one warm-up run (which fills the profile cache)
// then --runs runs (default 9): median wall ms, median CPU ms (user + sys,
// from wait4), and the largest peak RSS (ru_maxrss):
//   memscope linux.pslist -f IMG -p ISF -o json
//   memscope info -f IMG -p ISF -o json
//   memscope info -f IMG -o json                 (profile chosen by the session)
//   memscope info --all-banners -f IMG -p ISF -o json
// and checks that each exits 0.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/command_line.h"
#include "bench/support/image_copies.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"

using namespace memscope::bench;

namespace {

struct Row {
  std::string image, command;
  Repeated measured;
};

}  // namespace

int main(int argc, char** argv) {
  std::string raw, profile, workdir = "/tmp", cli = default_cli();
  int runs = 9;
  uint64_t big_gib = 64, lz4_gib = 16;
  bool lz4 = true;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& a = args.current();
    if (a == "--raw") raw = args.value();
    else if (a == "--profile") profile = args.value();
    else if (a == "--runs") runs = std::max(1, std::stoi(args.value()));
    else if (a == "--workdir") workdir = args.value();
    else if (a == "--cli") cli = args.value();
    else if (a == "--big-gib") big_gib = std::stoull(args.value());
    else if (a == "--lz4-gib") lz4_gib = std::stoull(args.value());
    else if (a == "--no-lz4") lz4 = false;
    else {
      std::cerr << "usage: bench_info --raw IMAGE.raw --profile ISF [--runs N] [--workdir DIR] [--cli PATH] "
                   "[--big-gib N] [--lz4-gib N] [--no-lz4]\n";
      return 2;
    }
  }
  if (raw.empty() || profile.empty()) {
    std::cerr << "bench_info: --raw and --profile are required\n";
    return 2;
  }
  const std::string tag = std::to_string(::getpid());
  const std::string big = workdir + "/bench_info-" + tag + "-" + std::to_string(big_gib) + "g.raw";
  const std::string lz4_source = workdir + "/bench_info-" + tag + "-" + std::to_string(lz4_gib) + "g.raw";
  const std::string lz4_image = workdir + "/bench_info-" + tag + "-" + std::to_string(lz4_gib) + "g.lz4";
  struct Cleanup {
    std::vector<std::string> paths;
    ~Cleanup() {
      for (const auto& p : paths) std::filesystem::remove(p);
    }
  } cleanup{{big, lz4_source, lz4_image}};
  try {
    make_sparse_copy(raw, big, big_gib << 30);
    std::vector<std::pair<std::string, std::string>> images{{std::to_string(big_gib) + " GiB sparse raw", big}};
    if (lz4) {
      make_sparse_copy(raw, lz4_source, lz4_gib << 30);
      const ProcessRun convert = run_process({cli, "convert", "-q", lz4_source, lz4_image}, {.must_succeed = true});
      std::cout << "converted the " << lz4_gib << " GiB sparse raw image to seekable LZ4 in "
                << fixed(convert.wall_ms / 1e3, 1) << " s (" << fixed(convert.cpu_ms / 1e3, 1) << " s CPU, peak RSS "
                << fixed(convert.peak_rss_mib, 0) << " MiB): " << std::filesystem::file_size(lz4_image) << " bytes\n";
      std::filesystem::remove(lz4_source);
      images.emplace_back(std::to_string(lz4_gib) + " GiB sparse, seekable LZ4", lz4_image);
    }
    std::vector<Row> rows;
    for (const auto& [name, path] : images) {
      rows.push_back(
          {name, "linux.pslist -p", repeat_process({cli, "linux.pslist", "-f", path, "-p", profile, "-o", "json"}, runs)});
      rows.push_back({name, "info -p", repeat_process({cli, "info", "-f", path, "-p", profile, "-o", "json"}, runs)});
      rows.push_back({name, "info (no -p)", repeat_process({cli, "info", "-f", path, "-o", "json"}, runs)});
      rows.push_back({name, "info --all-banners -p",
                      repeat_process({cli, "info", "--all-banners", "-f", path, "-p", profile, "-o", "json"}, runs)});
    }
    std::cout << "\n| image | command | wall ms, median (min-max) | CPU ms, median | peak RSS MiB (largest) | exit 0 |\n"
                 "|---|---|---|---|---|---|\n";
    for (const Row& r : rows)
      std::cout << "| " << r.image << " | `" << r.command << "` | " << median_and_range(r.measured.wall_ms, 1) << " | "
                << fixed(r.measured.cpu_ms.median, 1) << " | " << fixed(r.measured.peak_rss_mib, 1) << " | "
                << (r.measured.ok ? "yes" : "NO") << " |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_info: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
