// Speed and memory of the Linux plugins, per plugin and image:
//
//  - end to end: the wall time of a fresh `memscope linux.<plugin> -f IMAGE
//    -p PROFILE -o json` process from start to exit (min / median / max
//    over --runs runs, after one warm-up run that fills the binary profile
//    cache and the page cache), and the peak RSS of that process;
//  - the plugin alone: in this process, on a session whose image is open,
//    profile loaded and kernel found, the time of run_plugin only (its first
//    run, as the command does it, and the median of --runs more).
//
// The difference between the two is the price of a process (start, open,
// profile, discovery, rendering): the stages line under each image shows
// where it goes. Also for a 64 GiB sparse raw image built here from the
// first raw one, to show that the image's size does not matter.
//
//   bench_plugins --image image.raw --image image.lime --image image.elf
//                 --profile isf.json.xz [--runs 15] [--cli build/memscope]
//                 [--workdir /tmp] [--no-big] [--plugin linux.NAME]...
//
// Prints Markdown tables; figures are recorded in docs/performance.md.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
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

const std::vector<std::string> kPlugins = {"linux.pslist",        "linux.pstree",         "linux.psaux",
                                           "linux.envars",        "linux.lsmod",          "linux.check_syscall",
                                           "linux.check_idt",     "linux.check_creds",    "linux.ftrace",
                                           "linux.netfilter",     "linux.tty_check",      "linux.keyboard_notifiers"};
// The plugins measured: kPlugins, or those named with --plugin.
std::vector<std::string> g_plugins = kPlugins;

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct ProcessRun {
  bool ok = false;
  double ms = 0;
  double peak_rss_mib = 0;
};

// Runs the command with stdout and stderr to /dev/null: its wall time, and
// its peak RSS from wait4's rusage.
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
  out.ms = ms_since(start);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
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

std::string default_cli() {
  std::error_code ec;
  auto self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

// A raw image of `size` bytes whose first bytes are `source`'s and the rest
// a hole: the same machine, with 64 GiB of address space.
void make_sparse_copy(const std::string& source, const std::string& out, uint64_t size) {
  int in = ::open(source.c_str(), O_RDONLY);
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || fd < 0) throw std::runtime_error("cannot open " + source + " or " + out);
  std::vector<char> buffer(1 << 20);
  std::vector<char> zero(4096, 0);
  off_t offset = 0;
  while (true) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) throw std::runtime_error("cannot read " + source);
    if (n == 0) break;
    // Zero pages stay holes, as in a sparse raw dump.
    for (ssize_t at = 0; at < n; at += 4096) {
      ssize_t len = std::min<ssize_t>(4096, n - at);
      if (std::memcmp(buffer.data() + at, zero.data(), len) != 0 &&
          ::pwrite(fd, buffer.data() + at, len, offset + at) != len)
        throw std::runtime_error("cannot write " + out);
    }
    offset += n;
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("cannot extend " + out);
  ::close(in);
  ::close(fd);
}

// What a fresh `memscope` process costs for one plugin and image.
struct EndToEnd {
  bool ok = false;
  Stats ms;
  double peak_rss_mib = 0;
};

EndToEnd end_to_end(const std::string& cli, const std::string& plugin, const std::string& image,
                    const std::string& profile, int runs) {
  std::vector<std::string> argv = {cli, plugin, "-f", image, "-p", profile, "-o", "json"};
  EndToEnd out;
  if (!run_process(argv).ok) return out;  // warm-up: profile cache, page cache
  std::vector<double> times;
  for (int i = 0; i < runs; ++i) {
    ProcessRun r = run_process(argv);
    if (!r.ok) return out;
    times.push_back(r.ms);
    out.peak_rss_mib = std::max(out.peak_rss_mib, r.peak_rss_mib);
  }
  out.ok = true;
  out.ms = stats(times);
  return out;
}

// One image: every plugin alone in this process, beside its end-to-end
// figures, as Markdown table rows; then the stages of a session.
void report_image(const std::string& image, const std::string& profile, int runs, const std::string& label,
                  const std::vector<EndToEnd>& e2e) {
  using namespace memscope;
  auto start = Clock::now();
  SessionOptions options;
  options.image = image;
  options.profile = profile;
  Session session(options);
  double open = ms_since(start);
  start = Clock::now();
  session.profile();
  double load = ms_since(start);
  start = Clock::now();
  const LinuxKernelInfo& kernel = session.kernel();
  double discover = ms_since(start);

  for (size_t i = 0; i < g_plugins.size(); ++i) {
    std::string row = "| " + label + " | " + g_plugins[i].substr(6) + " | ";
    const EndToEnd& e = e2e[i];
    row += e.ok ? fixed(e.ms.median, 1) + " (" + fixed(e.ms.min, 1) + "-" + fixed(e.ms.max, 1) + ") | "
                : std::string("FAILED | ");
    const Plugin& plugin = *find_plugin(g_plugins[i]);
    PluginResult first = run_plugin(plugin, session, PluginArgs{});
    std::vector<double> alone;
    for (int r = 0; first.ok && r < runs; ++r)
      alone.push_back(
          std::chrono::duration<double, std::milli>(run_plugin(plugin, session, PluginArgs{}).elapsed).count());
    row += first.ok ? fixed(std::chrono::duration<double, std::milli>(first.elapsed).count(), 2) + " / " +
                          fixed(stats(alone).median, 2) + " | "
                    : "FAILED: " + first.error + " | ";
    row += e.ok ? fixed(e.peak_rss_mib, 1) + " |" : std::string(" |");
    std::cout << row << "\n";
  }
  std::cout << "|  | stages in one session: open " << fixed(open, 2) << ", profile " << fixed(load, 1)
            << " (cached), kernel " << fixed(discover, 2) << " (" << kernel.method << ") | | | |\n";
}

double own_peak_rss_mib() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string profile, cli = default_cli(), workdir = "/tmp";
  int runs = 15;
  bool big = true;
  std::vector<std::string> selected;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--image") images.push_back(next());
    else if (a == "--profile") profile = next();
    else if (a == "--cli") cli = next();
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--workdir") workdir = next();
    else if (a == "--no-big") big = false;
    else if (a == "--plugin") selected.push_back(next());
    else {
      std::cerr << "usage: bench_plugins --image IMAGE... --profile ISF [--runs N] [--cli PATH] [--workdir DIR] "
                   "[--no-big] [--plugin NAME]...\n";
      return 2;
    }
  }
  if (images.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_plugins: give --image (repeatable) and --profile\n";
    return 2;
  }
  for (const std::string& name : selected)
    if (!memscope::find_plugin(name)) {
      std::cerr << "bench_plugins: no plugin " << name << "\n";
      return 2;
    }
  if (!selected.empty()) g_plugins = selected;
  try {
    std::string big_image;
    if (big) {
      auto raw = std::find_if(images.begin(), images.end(), [](const std::string& p) {
        return p.size() > 4 && p.compare(p.size() - 4, 4, ".raw") == 0;
      });
      if (raw != images.end()) {
        big_image = workdir + "/bench_plugins-64g.raw";
        make_sparse_copy(*raw, big_image, uint64_t{64} << 30);
      }
    }
    std::vector<std::pair<std::string, std::string>> targets;  // label, image
    for (const std::string& image : images) targets.emplace_back(std::filesystem::path(image).filename(), image);
    if (!big_image.empty()) targets.emplace_back("64GiB-sparse.raw", big_image);

    // Every process first, while this one is small: a child's peak RSS
    // counts its parent's at the fork (the memory it shared until exec), so
    // no session may be open here yet.
    const double floor = own_peak_rss_mib();
    std::vector<std::vector<EndToEnd>> e2e;
    for (const auto& [label, image] : targets) {
      e2e.emplace_back();
      for (const std::string& plugin : g_plugins) e2e.back().push_back(end_to_end(cli, plugin, image, profile, runs));
    }

    std::cout << "End to end: " << cli << " PLUGIN -f IMAGE -p PROFILE -o json, a fresh process each run, ms "
              << "(median and range of " << runs << " runs after one warm-up), and its peak RSS "
              << "(ru_maxrss, the largest of the runs; it cannot read below this program's own " << fixed(floor, 1)
              << " MiB, which the child shares until exec).\n"
              << "Plugin alone: run_plugin in one session whose image is open, profile loaded and kernel found, "
              << "ms (first run / median of " << runs << " more).\n\n"
              << "| image | plugin | end to end, ms | plugin alone, ms | peak RSS, MiB |\n"
              << "|---|---|---|---|---|\n";
    for (size_t t = 0; t < targets.size(); ++t) report_image(targets[t].second, profile, runs, targets[t].first, e2e[t]);
    if (!big_image.empty()) std::filesystem::remove(big_image);
  } catch (const std::exception& e) {
    std::cerr << "bench_plugins: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
