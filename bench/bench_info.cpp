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
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
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

// `source`'s bytes with its zero pages as holes, then a hole up to `size`.
void make_sparse_copy(const std::string& source, const std::string& out, uint64_t size) {
  int in = ::open(source.c_str(), O_RDONLY);
  int fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (in < 0 || fd < 0) throw std::runtime_error("cannot open " + source + " or " + out);
  std::vector<char> buffer(1 << 20);
  const std::vector<char> zero(4096, 0);
  off_t offset = 0;
  for (;;) {
    ssize_t n = ::read(in, buffer.data(), buffer.size());
    if (n < 0) throw std::runtime_error("cannot read " + source);
    if (n == 0) break;
    for (ssize_t at = 0; at < n; at += 4096) {
      ssize_t len = std::min<ssize_t>(4096, n - at);
      if (std::memcmp(buffer.data() + at, zero.data(), static_cast<size_t>(len)) != 0 &&
          ::pwrite(fd, buffer.data() + at, static_cast<size_t>(len), offset + at) != len)
        throw std::runtime_error("cannot write " + out);
    }
    offset += n;
  }
  if (::ftruncate(fd, static_cast<off_t>(size)) != 0) throw std::runtime_error("cannot extend " + out);
  ::close(in);
  ::close(fd);
}

struct Row {
  std::string image, command;
  double wall = 0, cpu = 0, rss = 0, wall_min = 0, wall_max = 0;
  bool ok = true;
};

Row measure(const std::string& image, const std::string& label, const std::vector<std::string>& argv, int runs) {
  Row row{image, label};
  run_process(argv);  // warm-up: profile cache, page cache
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    ProcessRun r = run_process(argv);
    row.ok = row.ok && r.ok;
    wall.push_back(r.wall_ms);
    cpu.push_back(r.cpu_ms);
    row.rss = std::max(row.rss, r.peak_rss_mib);
  }
  row.wall = median(wall);
  row.cpu = median(cpu);
  row.wall_min = *std::min_element(wall.begin(), wall.end());
  row.wall_max = *std::max_element(wall.begin(), wall.end());
  return row;
}

}  // namespace

int main(int argc, char** argv) {
  std::string raw, profile, workdir = "/tmp", cli = default_cli();
  int runs = 9;
  uint64_t big_gib = 64, lz4_gib = 16;
  bool lz4 = true;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--raw") raw = value();
    else if (a == "--profile") profile = value();
    else if (a == "--runs") runs = std::max(1, std::stoi(value()));
    else if (a == "--workdir") workdir = value();
    else if (a == "--cli") cli = value();
    else if (a == "--big-gib") big_gib = std::stoull(value());
    else if (a == "--lz4-gib") lz4_gib = std::stoull(value());
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
      auto start = Clock::now();
      ProcessRun convert = run_process({cli, "convert", "-q", lz4_source, lz4_image});
      double seconds = std::chrono::duration<double>(Clock::now() - start).count();
      if (!convert.ok) throw std::runtime_error("memscope convert failed on " + lz4_source);
      std::cout << "converted the " << lz4_gib << " GiB sparse raw image to seekable LZ4 in " << fixed(seconds, 1)
                << " s (" << fixed(convert.cpu_ms / 1e3, 1) << " s CPU, peak RSS " << fixed(convert.peak_rss_mib, 0)
                << " MiB): " << std::filesystem::file_size(lz4_image) << " bytes\n";
      std::filesystem::remove(lz4_source);
      images.emplace_back(std::to_string(lz4_gib) + " GiB sparse, seekable LZ4", lz4_image);
    }
    std::vector<Row> rows;
    for (const auto& [name, path] : images) {
      rows.push_back(measure(name, "linux.pslist -p", {cli, "linux.pslist", "-f", path, "-p", profile, "-o", "json"}, runs));
      rows.push_back(measure(name, "info -p", {cli, "info", "-f", path, "-p", profile, "-o", "json"}, runs));
      rows.push_back(measure(name, "info (no -p)", {cli, "info", "-f", path, "-o", "json"}, runs));
      rows.push_back(measure(name, "info --all-banners -p",
                             {cli, "info", "--all-banners", "-f", path, "-p", profile, "-o", "json"}, runs));
    }
    std::cout << "\n| image | command | wall ms, median (min-max) | CPU ms, median | peak RSS MiB (largest) | exit 0 |\n"
                 "|---|---|---|---|---|---|\n";
    for (const Row& r : rows)
      std::cout << "| " << r.image << " | `" << r.command << "` | " << fixed(r.wall, 1) << " (" << fixed(r.wall_min, 1)
                << "-" << fixed(r.wall_max, 1) << ") | " << fixed(r.cpu, 1) << " | " << fixed(r.rss, 1) << " | "
                << (r.ok ? "yes" : "NO") << " |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_info: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
