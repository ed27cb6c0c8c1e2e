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
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "bench/support/clocks.h"
#include "bench/support/command_line.h"
#include "bench/support/image_copies.h"
#include "bench/support/plugin_alone.h"
#include "bench/support/process_run.h"
#include "bench/support/resident_memory.h"
#include "bench/support/statistics.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

using namespace memscope::bench;

namespace {

const std::vector<std::string> kPlugins = {"linux.pslist",        "linux.pstree",         "linux.psaux",
                                           "linux.envars",        "linux.lsmod",          "linux.check_syscall",
                                           "linux.check_idt",     "linux.check_creds",    "linux.ftrace",
                                           "linux.netfilter",     "linux.tty_check",      "linux.keyboard_notifiers"};
// The plugins measured: kPlugins, or those named with --plugin.
std::vector<std::string> g_plugins = kPlugins;

// What a fresh `memscope` process costs for one plugin and image.
Repeated end_to_end(const std::string& cli, const std::string& plugin, const std::string& image,
                    const std::string& profile, int runs) {
  return repeat_process({cli, plugin, "-f", image, "-p", profile, "-o", "json"}, runs);
}

// One image: every plugin alone in this process, beside its end-to-end
// figures, as Markdown table rows; then the stages of a session.
void report_image(const std::string& image, const std::string& profile, int runs, const std::string& label,
                  const std::vector<Repeated>& e2e) {
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
    const Repeated& e = e2e[i];
    row += e.ok ? median_and_range(e.wall_ms, 1) + " | " : std::string("FAILED | ");
    // Its first run, as the command makes it, then the median of more.
    const PluginAlone first = time_plugin_alone(session, g_plugins[i], {}, 1, IfPluginFails::report);
    if (first.ok) {
      const PluginAlone more = time_plugin_alone(session, g_plugins[i], {}, runs, IfPluginFails::report);
      row += fixed(first.wall_ms.median, 2) + " / " + fixed(more.wall_ms.median, 2) + " | ";
    } else {
      row += "FAILED: " + first.error + " | ";
    }
    row += e.ok ? fixed(e.peak_rss_mib, 1) + " |" : std::string(" |");
    std::cout << row << "\n";
  }
  std::cout << "|  | stages in one session: open " << fixed(open, 2) << ", profile " << fixed(load, 1)
            << " (cached), kernel " << fixed(discover, 2) << " (" << kernel.method << ") | | | |\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string profile, cli = default_cli(), workdir = "/tmp";
  int runs = 15;
  bool big = true;
  std::vector<std::string> selected;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& a = args.current();
    if (a == "--image") images.push_back(args.value());
    else if (a == "--profile") profile = args.value();
    else if (a == "--cli") cli = args.value();
    else if (a == "--runs") runs = std::stoi(args.value());
    else if (a == "--workdir") workdir = args.value();
    else if (a == "--no-big") big = false;
    else if (a == "--plugin") selected.push_back(args.value());
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
    std::vector<std::vector<Repeated>> e2e;
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
