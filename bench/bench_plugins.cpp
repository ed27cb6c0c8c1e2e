// Speed of the Linux process and module plugins, end to end: the wall time
// of `memscope linux.<plugin> -f IMAGE -p PROFILE -o json` from process
// start to exit (profile already in the binary cache), for each image given
// and for a 64 GiB sparse raw image built here from the first raw one (the
// image size must not matter). Then, in this process, where the time goes:
// opening the image, loading the profile, finding the kernel, the plugin.
//
//   bench_plugins --image image.raw --image image.lime --image image.elf
//                 --profile isf.json.xz [--runs 15] [--cli build/memscope]
//                 [--workdir /tmp] [--no-big]
//
// Figures are recorded in docs/performance.md.
#include <fcntl.h>
#include <spawn.h>
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
#include <string>
#include <vector>

#include "core/plugin/plugin.h"
#include "core/session/session.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> kPlugins = {"linux.pslist", "linux.pstree", "linux.psaux", "linux.envars",
                                           "linux.lsmod"};

double ms_since(Clock::time_point start) {
  return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

// Runs the command with stdout and stderr to /dev/null; returns its wall
// time in ms, or a negative value if it did not exit with status 0.
double run_timed(const std::vector<std::string>& argv) {
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
  if (rc != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  double elapsed = ms_since(start);
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? elapsed : -1;
}

struct Stats {
  double min = 0, median = 0, max = 0;
};

Stats stats(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return {v.front(), v[v.size() / 2], v.back()};
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

void bench_cli(const std::string& cli, const std::string& image, const std::string& profile, int runs,
               const std::string& label) {
  for (const std::string& plugin : kPlugins) {
    std::vector<std::string> argv = {cli, plugin, "-f", image, "-p", profile, "-o", "json"};
    if (run_timed(argv) < 0) {  // warm-up: fills the profile cache and the page cache
      std::cout << std::left << std::setw(14) << label << std::setw(14) << plugin << "FAILED\n";
      continue;
    }
    std::vector<double> times;
    for (int i = 0; i < runs; ++i) times.push_back(run_timed(argv));
    Stats s = stats(times);
    std::cout << std::left << std::setw(14) << label << std::setw(14) << plugin << std::right << std::fixed
              << std::setprecision(1) << std::setw(8) << s.min << std::setw(8) << s.median << std::setw(8) << s.max
              << "\n";
  }
}

void bench_stages(const std::string& image, const std::string& profile, const std::string& label) {
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
  std::cout << std::left << std::setw(14) << label << std::fixed << std::setprecision(2) << "open " << open
            << "  profile " << load << "  kernel " << discover << " (" << kernel.method << ")";
  for (const std::string& name : kPlugins) {
    start = Clock::now();
    PluginResult result = run_plugin(*find_plugin(name), session, PluginArgs{});
    std::cout << "  " << name.substr(6) << " " << ms_since(start) << (result.ok ? "" : " FAILED");
  }
  std::cout << "\n";
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> images;
  std::string profile, cli = default_cli(), workdir = "/tmp";
  int runs = 15;
  bool big = true;
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
    else {
      std::cerr << "usage: bench_plugins --image IMAGE... --profile ISF [--runs N] [--cli PATH] [--workdir DIR] "
                   "[--no-big]\n";
      return 2;
    }
  }
  if (images.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_plugins: give --image (repeatable) and --profile\n";
    return 2;
  }
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
    std::cout << "End to end (" << cli << "), ms over " << runs << " runs after one warm-up:\n";
    std::cout << std::left << std::setw(14) << "image" << std::setw(14) << "plugin" << std::right << std::setw(8)
              << "min" << std::setw(8) << "median" << std::setw(8) << "max" << "\n";
    for (const std::string& image : images)
      bench_cli(cli, image, profile, runs, std::filesystem::path(image).filename().string());
    if (!big_image.empty()) bench_cli(cli, big_image, profile, runs, "64GiB-sparse");

    std::cout << "\nIn-process stages, ms (one session, profile cached):\n";
    for (const std::string& image : images)
      bench_stages(image, profile, std::filesystem::path(image).filename().string());
    if (!big_image.empty()) {
      bench_stages(big_image, profile, "64GiB-sparse");
      std::filesystem::remove(big_image);
    }
  } catch (const std::exception& e) {
    std::cerr << "bench_plugins: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
