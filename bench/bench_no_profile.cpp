// Time from nothing to a ready profile: a fresh `memscope` process given
// only the image, per image.
//
//  - cold: `memscope profile info -f IMAGE` with an empty profile cache and
//    no symbol folder (XDG_CACHE_HOME and XDG_DATA_HOME point at new, empty
//    folders for every run): discovery, kallsyms decoded, BTF read and
//    parsed, the profile built, verified and written to the cache;
//  - cached: the same command once the cache holds the profile (banner +
//    build-id), which it maps;
//  - for comparison, the same command with `-p isf.json.xz` (the fixture's
//    ISF, its cache entry warm) and with the ISF in the symbol folder;
//  - end to end, `memscope linux.pslist -f IMAGE -o json` cold and cached.
// Each is the median (and min / max) of --runs fresh processes, with wall
// time, CPU time (user + system, from wait4) and peak RSS. Then, in this
// process, the stages of one cold recovery.
//
//   bench_no_profile --image image.raw [--image image.elf ...] --profile isf.json.xz
//                    [--runs 11] [--cli build/memscope] [--workdir /tmp]
//
// Prints Markdown tables; figures are recorded in docs/performance.md.
#include <unistd.h>

#include <filesystem>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "bench/support/clocks.h"
#include "bench/support/command_line.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"
#include "core/layers/format_registry.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/image/image_profile.h"
#include "profiles/image/kernel_btf.h"
#include "profiles/image/kernel_symbols.h"

namespace {

using namespace memscope;
using namespace memscope::bench;
namespace fs = std::filesystem;

// Wall and CPU ms of one stage; the calling thread's CPU, steadier than
// wall time on a shared machine.
struct Stage {
  Clock::time_point wall = Clock::now();
  double cpu_s = thread_cpu_seconds();
  std::string done() const {
    return fixed(ms_since(wall), 1) + " ms (" + fixed((thread_cpu_seconds() - cpu_s) * 1e3, 1) + " CPU)";
  }
};

// A fresh pair of empty cache and data folders.
struct Home {
  fs::path root;
  ProcessOptions env() const {
    ProcessOptions options;
    options.environment = {"XDG_CACHE_HOME=" + (root / "cache").string(), "XDG_DATA_HOME=" + (root / "data").string()};
    return options;
  }
};

Home fresh_home(const fs::path& workdir, int n) {
  Home home{workdir / ("bench-no-profile-" + std::to_string(::getpid()) + "-" + std::to_string(n))};
  fs::remove_all(home.root);
  fs::create_directories(home.root / "cache");
  fs::create_directories(home.root / "data");
  return home;
}

struct Row {
  std::string what, command;
  std::vector<double> wall{}, cpu{}, rss{};
  bool ok = true;
};

void measure(Row& row, const std::vector<std::string>& argv, const ProcessOptions& env) {
  ProcessRun r = run_process(argv, env);
  row.ok = row.ok && r.ok;
  row.wall.push_back(r.wall_ms);
  row.cpu.push_back(r.cpu_ms);
  row.rss.push_back(r.peak_rss_mib);
}

void print(const std::string& image, const std::vector<Row>& rows) {
  std::cout << "\n### " << fs::path(image).filename().string() << "\n\n"
            << "| | wall ms (median, min-max) | CPU ms | peak RSS MiB | command |\n|---|---|---|---|---|\n";
  for (const Row& r : rows)
    std::cout << "| " << r.what << (r.ok ? "" : " (FAILED)") << " | " << median_and_range(stats_of(r.wall), 1) << " | "
              << fixed(median(r.cpu), 1) << " | " << fixed(median(r.rss), 1) << " | `" << r.command << "` |\n";
}

// One cold recovery in this process, stage by stage.
void stages(const std::string& image_path) {
  Stage t;
  std::unique_ptr<PhysicalLayer> image = memscope::open_image(image_path);
  const std::string open_ms = t.done();
  t = Stage{};
  memscope::LinuxKernelInfo kernel = memscope::discover_linux_kernel(*image, nullptr);
  const std::string discover_ms = t.done();
  memscope::X86_64Paging space(*image, kernel.dtb, kernel.paging_levels, "kernel");
  t = Stage{};
  memscope::KallsymsTable table = memscope::read_kallsyms(space, *memscope::kallsyms_tables(*kernel.vmcoreinfo));
  const std::string kallsyms_ms = t.done();
  t = Stage{};
  memscope::SystemMap map = memscope::system_map_from_kallsyms(table, kernel.virtual_shift, "kallsyms");
  const std::string map_ms = t.done();
  t = Stage{};
  memscope::KernelBtfPlace place;
  place.start = table.find("__start_BTF")->address;
  place.stop = table.find("__stop_BTF")->address;
  memscope::KernelBtf btf = memscope::read_kernel_btf(space, *image, place);
  const std::string btf_ms = t.done();
  t = Stage{};
  memscope::ProfileFromBtfOptions options;
  options.banner = kernel.banner;
  options.source = "bench";
  auto profile = memscope::profile_from_btf(btf.btf, map, options);
  const std::string build_ms = t.done();
  t = Stage{};
  profile->verify();
  const std::string verify_ms = t.done();
  std::cout << "\nStages of one cold recovery in one process (" << fs::path(image_path).filename().string()
            << "), wall (thread CPU): open " << open_ms << ", discovery without a profile " << discover_ms << " ("
            << kernel.method << "), kallsyms " << kallsyms_ms << " (" << table.symbols.size()
            << " symbols), to link-time " << map_ms << ", BTF read + parse " << btf_ms << " (" << btf.size
            << " bytes), profile built " << build_ms << " (" << profile->types().size() << " types, "
            << profile->symbols().size() << " symbols), verify (as the cache does before writing) " << verify_ms
            << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string isf, cli = default_cli();
  fs::path workdir = fs::temp_directory_path();
  int runs = 11;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& arg = args.current();
    if (arg == "--image") images.push_back(args.value());
    else if (arg == "--profile") isf = args.value();
    else if (arg == "--runs") runs = std::stoi(args.value());
    else if (arg == "--cli") cli = args.value();
    else if (arg == "--workdir") workdir = args.value();
    else {
      std::cerr << "usage: bench_no_profile --image IMAGE... --profile ISF [--runs N] [--cli PATH] [--workdir DIR]\n";
      return 2;
    }
  }
  if (images.empty() || isf.empty()) {
    std::cerr << "bench_no_profile: give --image (one or more) and --profile ISF\n";
    return 2;
  }
  std::cout << "# bench_no_profile: " << runs << " fresh processes per row, cli " << cli << "\n";
  int homes = 0;
  for (const std::string& image : images) {
    std::vector<Row> rows(6);
    rows[0] = {"profile ready, cold (empty cache)", "memscope profile info -f " + fs::path(image).filename().string()};
    rows[1] = {"profile ready, cached", rows[0].command};
    rows[2] = {"profile ready, -p ISF (cached entry)", rows[0].command + " -p isf.json.xz"};
    rows[3] = {"profile ready, ISF in the symbol folder", rows[0].command};
    rows[4] = {"linux.pslist, cold", "memscope linux.pslist -f " + fs::path(image).filename().string() + " -o json"};
    rows[5] = {"linux.pslist, cached", rows[4].command};
    const std::vector<std::string> info = {cli, "profile", "info", "-f", image};
    const std::vector<std::string> pslist = {cli, "linux.pslist", "-f", image, "-o", "json"};
    std::vector<std::string> with_isf = info;
    with_isf.insert(with_isf.end(), {"-p", isf});
    // Warm the page cache with the image and the ISF's cache entry.
    Home warm = fresh_home(workdir, homes++);
    run_process(with_isf, warm.env());
    run_process(info, warm.env());
    // The ISF in a symbol folder, its banner index and cache entry warm.
    Home folder = fresh_home(workdir, homes++);
    fs::create_directories(folder.root / "data" / "memscope" / "symbols");
    fs::create_symlink(fs::absolute(isf), folder.root / "data" / "memscope" / "symbols" / "kernel.json.xz");
    run_process(info, folder.env());
    for (int r = 0; r < runs; ++r) {
      Home cold = fresh_home(workdir, homes++);
      measure(rows[0], info, cold.env());
      measure(rows[1], info, cold.env());
      measure(rows[2], with_isf, warm.env());
      measure(rows[3], info, folder.env());
      Home cold_pslist = fresh_home(workdir, homes++);
      measure(rows[4], pslist, cold_pslist.env());
      measure(rows[5], pslist, cold_pslist.env());
      fs::remove_all(cold.root);
      fs::remove_all(cold_pslist.root);
    }
    print(image, rows);
    fs::remove_all(warm.root);
    fs::remove_all(folder.root);
  }
  // In this process, after every child: a child started with posix_spawn
  // shares this process's memory until it execs, and Linux carries the
  // larger peak RSS across exec, so a large bench process would inflate
  // the children's peak RSS figures.
  for (const std::string& image : images) stages(image);
  return 0;
}
