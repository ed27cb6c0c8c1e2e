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
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

struct ProcessRun {
  bool ok = false;
  double wall_ms = 0, cpu_ms = 0, peak_rss_mib = 0;
};

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
  out.wall_ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  auto ms = [](const timeval& t) { return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_usec) / 1e3; };
  out.cpu_ms = ms(usage.ru_utime) + ms(usage.ru_stime);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
  out.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
  return out;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
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

struct Measured {
  double wall_ms, cpu_ms, peak_rss_mib;
};

Measured measure(const std::vector<std::string>& argv, int runs) {
  if (!run_process(argv).ok) throw std::runtime_error("failed: " + argv[1] + " ... (run it by hand to see why)");
  std::vector<double> wall, cpu;
  double peak = 0;
  for (int i = 0; i < runs; ++i) {
    ProcessRun r = run_process(argv);
    if (!r.ok) throw std::runtime_error("a run failed");
    wall.push_back(r.wall_ms);
    cpu.push_back(r.cpu_ms);
    peak = std::max(peak, r.peak_rss_mib);
  }
  return {median(wall), median(cpu), peak};
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string profile, cli = default_cli();
  int runs = 7;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(arg + " needs a value");
      return argv[++i];
    };
    if (arg == "--image") images.push_back(value());
    else if (arg == "--profile") profile = value();
    else if (arg == "--runs") runs = std::stoi(value());
    else if (arg == "--cli") cli = value();
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
      Measured m = measure(args, runs);
      std::cout << "| `report --all -f " << std::filesystem::path(images[0]).filename().string()
                << (hash ? "" : " --no-hash") << "` | " << fixed(m.wall_ms, 0) << " | " << fixed(m.cpu_ms, 0)
                << " | " << fixed(m.peak_rss_mib, 1) << " | " << fixed(60000.0 / m.wall_ms, 0) << " |\n";
    }
    for (const char* jobs : {"1", "2"}) {
      std::vector<std::string> args{cli, "report", "--all", "-p", profile, "-q", "-j", jobs};
      std::string names;
      for (const std::string& image : images) {
        args.insert(args.end(), {"-f", image});
        names += (names.empty() ? "" : ", ") + std::filesystem::path(image).filename().string();
      }
      Measured m = measure(args, runs);
      std::cout << "| `report --all -j " << jobs << "` over " << images.size() << " images (" << names << ") | "
                << fixed(m.wall_ms, 0) << " | " << fixed(m.cpu_ms, 0) << " | " << fixed(m.peak_rss_mib, 1) << " | "
                << fixed(static_cast<double>(images.size()) * 60000.0 / m.wall_ms, 0) << " |\n";
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_report: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
