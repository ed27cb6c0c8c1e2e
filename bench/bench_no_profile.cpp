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
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/layers/format_registry.h"
#include "core/layers/x86_64_paging.h"
#include "core/linux/discovery/discovery.h"
#include "core/linux/discovery/kallsyms.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/image/image_profile.h"
#include "profiles/image/kernel_btf.h"
#include "profiles/image/kernel_symbols.h"

extern char** environ;

namespace {

using namespace memscope;
using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// CPU ms of the calling thread: steadier than wall time on a shared machine.
double thread_cpu_ms() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return double(ts.tv_sec) * 1e3 + double(ts.tv_nsec) / 1e6;
}

// Wall and CPU ms of one stage.
struct Stage {
  Clock::time_point wall = Clock::now();
  double cpu = thread_cpu_ms();
  std::string done() const {
    std::ostringstream out;
    out << std::fixed << std::setprecision(1) << ms_since(wall) << " ms (" << thread_cpu_ms() - cpu << " CPU)";
    return out.str();
  }
};

struct ProcessRun {
  bool ok = false;
  double wall_ms = 0, cpu_ms = 0, peak_rss_mib = 0;
};

// Runs the command with stdout and stderr to /dev/null and `env` added to
// the environment: wall time, CPU time and peak RSS from wait4's rusage.
ProcessRun run_process(const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  std::vector<std::string> environment(env);
  for (char** e = environ; *e; ++e) {
    std::string entry(*e);
    bool replaced = false;
    for (const std::string& mine : env) replaced = replaced || entry.substr(0, entry.find('=')) == mine.substr(0, mine.find('='));
    if (!replaced) environment.push_back(entry);
  }
  std::vector<char*> envp;
  for (std::string& e : environment) envp.push_back(e.data());
  envp.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
  auto start = Clock::now();
  pid_t pid = 0;
  int rc = posix_spawn(&pid, args[0], &actions, nullptr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ProcessRun out;
  if (rc != 0) return out;
  int status = 0;
  struct rusage usage {};
  if (::wait4(pid, &status, 0, &usage) < 0) return out;
  out.wall_ms = ms_since(start);
  out.cpu_ms = (usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) * 1e3 +
               (usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e3;
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

std::string fixed(double value, int digits) {
  std::ostringstream out;
  out << std::fixed << std::setprecision(digits) << value;
  return out.str();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

std::string default_cli() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

// A fresh pair of empty cache and data folders.
struct Home {
  fs::path root;
  std::vector<std::string> env() const {
    return {"XDG_CACHE_HOME=" + (root / "cache").string(), "XDG_DATA_HOME=" + (root / "data").string()};
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

void measure(Row& row, const std::vector<std::string>& argv, const std::vector<std::string>& env) {
  ProcessRun r = run_process(argv, env);
  row.ok = row.ok && r.ok;
  row.wall.push_back(r.wall_ms);
  row.cpu.push_back(r.cpu_ms);
  row.rss.push_back(r.peak_rss_mib);
}

void print(const std::string& image, const std::vector<Row>& rows) {
  std::cout << "\n### " << fs::path(image).filename().string() << "\n\n"
            << "| | wall ms (median, min-max) | CPU ms | peak RSS MiB | command |\n|---|---|---|---|---|\n";
  for (const Row& r : rows) {
    auto [lo, hi] = std::minmax_element(r.wall.begin(), r.wall.end());
    std::cout << "| " << r.what << (r.ok ? "" : " (FAILED)") << " | " << fixed(median(r.wall), 1) << " ("
              << fixed(*lo, 1) << "-" << fixed(*hi, 1) << ") | " << fixed(median(r.cpu), 1) << " | "
              << fixed(median(r.rss), 1) << " | `" << r.command << "` |\n";
  }
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
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--image") images.push_back(next());
    else if (arg == "--profile") isf = next();
    else if (arg == "--runs") runs = std::stoi(next());
    else if (arg == "--cli") cli = next();
    else if (arg == "--workdir") workdir = next();
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
