// Speed of linux.yarascan against YARA's own, and of linux.lsof and
// linux.sockstat, on an image, as users run them:
//
//  - The bytes yarascan scans (every process's VMAs, the pages the image
//    holds) are read once into memory; YARA's own speed is libyara scanning
//    those buffers (yr_rules_scan_mem_blocks per process, one thread: no
//    reads, no copies), per MiB.
//  - memscope's process scan on the same processes (YaraScanner, which
//    reads the pages from the image while YARA scans): one worker, and all
//    cores; run_plugin alone; and a fresh `memscope linux.yarascan`
//    process (wall, CPU, peak RSS), per MiB.
//  - linux.lsof and linux.sockstat: fresh processes and run_plugin alone.
//
// Two rule sets: one text string, and twelve strings of every kind
// (text, nocase, wide, hex with jumps, regular expressions).
//
//   bench_yarascan --image IMAGE --profile PROFILE [--runs 11] [--cli build/memscope] [--workdir /tmp]
//                  [--rules single|mixed] [--scans-only]
//
// --rules keeps one of the two rule sets; --scans-only times only YARA
// alone and yarascan's scan (no fresh processes, no run_plugin, no lsof or
// sockstat), for instruction counts under callgrind, where the inclusive
// cost of yr_rules_scan_mem_blocks is YARA's and that of
// YaraScanner::scan_processes (the calling thread: page tables, copies)
// plus the workers' is yarascan's, for `--runs` scans each with one
// worker and with all cores.
//
// Prints Markdown; figures are recorded in docs/performance.md.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yara.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/linux/yara_scan.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

extern char** environ;

namespace {

using Clock = std::chrono::steady_clock;
namespace fs = std::filesystem;

struct ProcessRun {
  bool ok = false;
  double ms = 0, cpu_ms = 0, peak_rss_mib = 0;
};

double timeval_ms(const timeval& tv) { return tv.tv_sec * 1e3 + tv.tv_usec / 1e3; }

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
  out.ms = std::chrono::duration<double, std::milli>(Clock::now() - start).count();
  out.cpu_ms = timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
  out.peak_rss_mib = static_cast<double>(usage.ru_maxrss) / 1024.0;
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
std::string range(const Stats& s, int digits) {
  return fixed(s.median, digits) + " (" + fixed(s.min, digits) + "-" + fixed(s.max, digits) + ")";
}

struct Repeated {
  Stats wall, cpu;
  double peak_rss_mib = 0;
};

Repeated repeat(const std::vector<std::string>& argv, int runs) {
  if (!run_process(argv).ok) throw std::runtime_error("the command failed: " + argv[1]);
  std::vector<double> wall, cpu;
  Repeated out;
  for (int i = 0; i < runs; ++i) {
    ProcessRun r = run_process(argv);
    if (!r.ok) throw std::runtime_error("the command failed: " + argv[1]);
    wall.push_back(r.ms);
    cpu.push_back(r.cpu_ms);
    out.peak_rss_mib = std::max(out.peak_rss_mib, r.peak_rss_mib);
  }
  out.wall = stats(wall);
  out.cpu = stats(cpu);
  return out;
}

std::string default_cli() {
  std::error_code ec;
  auto self = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return "memscope";
  return (self.parent_path().parent_path() / "memscope").string();
}

double cpu_now_ms() {
  struct rusage usage {};
  ::getrusage(RUSAGE_SELF, &usage);
  return timeval_ms(usage.ru_utime) + timeval_ms(usage.ru_stime);
}

// Median wall and CPU time of `work` over `runs`.
std::pair<Stats, Stats> timed(int runs, const std::function<void()>& work) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    double c0 = cpu_now_ms();
    auto t0 = Clock::now();
    work();
    wall.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    cpu.push_back(cpu_now_ms() - c0);
  }
  return {stats(wall), stats(cpu)};
}

const char* kSingleRule = "rule single { strings: $a = \"-----BEGIN RSA PRIVATE KEY-----\" condition: $a }\n";
const char* kMixedRules =
    "rule mixed_text { strings:\n"
    "  $a = \"-----BEGIN RSA PRIVATE KEY-----\"\n"
    "  $b = \"/etc/ld.so.preload\"\n"
    "  $c = \"LD_PRELOAD=\" nocase\n"
    "  $d = \"meterpreter\" wide ascii\n"
    "  $e = \"/dev/shm/.\"\n"
    "  $f = \"stratum+tcp://\"\n"
    " condition: any of them }\n"
    "rule mixed_hex { strings:\n"
    "  $a = { 7f 45 4c 46 02 01 01 [8] 03 00 3e 00 }\n"
    "  $b = { 48 31 c0 48 31 ff [0-4] 0f 05 }\n"
    "  $c = { 6a 29 58 99 6a 02 5f 6a 01 5e 0f 05 }\n"
    " condition: any of them }\n"
    "rule mixed_regex { strings:\n"
    "  $a = /https?:\\/\\/[a-z0-9.-]{4,64}\\/[a-z]{2,12}\\.(sh|bin)/\n"
    "  $b = /[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}\\.[0-9]{1,3}:4444/\n"
    "  $c = /bash -i >& \\/dev\\/tcp\\//\n"
    " condition: any of them }\n";

// The bytes of one process, dumped: its blocks and their contents.
struct Dumped {
  std::vector<memscope::Range> blocks;
  std::vector<std::vector<uint8_t>> data;
};

struct BufferIterator {
  const Dumped* dumped = nullptr;
  size_t next = 0;
  YR_MEMORY_BLOCK block{};
};

const uint8_t* fetch(YR_MEMORY_BLOCK* block) {
  auto* it = static_cast<BufferIterator*>(block->context);
  return it->dumped->data[it->next - 1].data();
}

YR_MEMORY_BLOCK* next_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  auto* it = static_cast<BufferIterator*>(iterator->context);
  iterator->last_error = ERROR_SUCCESS;
  if (it->next >= it->dumped->blocks.size()) return nullptr;
  const memscope::Range& r = it->dumped->blocks[it->next++];
  it->block = YR_MEMORY_BLOCK{static_cast<size_t>(r.size), r.start, it, fetch};
  return &it->block;
}

YR_MEMORY_BLOCK* first_block(YR_MEMORY_BLOCK_ITERATOR* iterator) {
  static_cast<BufferIterator*>(iterator->context)->next = 0;
  return next_block(iterator);
}

int count_matches(YR_SCAN_CONTEXT*, int message, void*, void* user) {
  if (message == CALLBACK_MSG_RULE_MATCHING) ++*static_cast<int*>(user);
  return CALLBACK_CONTINUE;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace memscope;
  using namespace memscope::linux_kernel;
  std::string image, profile, cli = default_cli(), workdir = "/tmp";
  int runs = 11;
  std::string only_rules;
  bool scans_only = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) throw std::runtime_error(a + " needs a value");
      return argv[++i];
    };
    if (a == "--image") image = next();
    else if (a == "--profile") profile = next();
    else if (a == "--cli") cli = next();
    else if (a == "--runs") runs = std::stoi(next());
    else if (a == "--workdir") workdir = next();
    else if (a == "--rules") only_rules = next();
    else if (a == "--scans-only") scans_only = true;
    else {
      std::cerr << "usage: bench_yarascan --image IMAGE --profile PROFILE [--runs N] [--cli PATH] [--workdir DIR] "
                   "[--rules single|mixed] [--scans-only]\n";
      return 2;
    }
  }
  if (image.empty() || profile.empty() || runs < 1) {
    std::cerr << "bench_yarascan: give --image and --profile\n";
    return 2;
  }
  if (!only_rules.empty() && only_rules != "single" && only_rules != "mixed") {
    std::cerr << "bench_yarascan: --rules is single or mixed\n";
    return 2;
  }
  try {
    const std::string dir = workdir + "/bench_yarascan-" + std::to_string(::getpid());
    fs::create_directories(dir);
    std::vector<std::pair<std::string, std::string>> rule_sets;
    if (only_rules != "mixed") rule_sets.push_back({"1 text string", kSingleRule});
    if (only_rules != "single") rule_sets.push_back({"12 strings of every kind", kMixedRules});
    std::vector<std::string> rule_files;
    for (size_t i = 0; i < rule_sets.size(); ++i) {
      rule_files.push_back(dir + "/rules" + std::to_string(i) + ".yar");
      std::ofstream(rule_files.back()) << rule_sets[i].second;
    }

    // Fresh processes first, while this one is small.
    std::vector<Repeated> fresh(rule_files.size());
    Repeated lsof, sockstat;
    if (!scans_only) {
      for (size_t i = 0; i < rule_files.size(); ++i)
        fresh[i] = repeat({cli, "linux.yarascan", "-f", image, "-p", profile, "--yara-file", rule_files[i], "-o", "json"},
                          runs);
      lsof = repeat({cli, "linux.lsof", "-f", image, "-p", profile, "-o", "json"}, runs);
      sockstat = repeat({cli, "linux.sockstat", "-f", image, "-p", profile, "-o", "json"}, runs);
    }

    SessionOptions options;
    options.image = image;
    options.profile = profile;
    Session session(options);
    KernelView kernel = kernel_view(session);
    Warnings warnings;
    ProcessWalk processes(kernel, warnings);
    VmaReader vma_reader(kernel);
    std::vector<YaraProcess> targets;
    processes.for_each([&](const Task& task) {
      if (task.mm == 0) return;
      auto memory = processes.memory(task);
      if (!memory) return;
      YaraProcess target{task.label(), memory->pgd_physical, {}};
      for (const Vma& vma : vma_reader.vmas(task.mm, task.label(), warnings, {.names = false}))
        target.vmas.push_back({vma.start, vma.end - vma.start});
      targets.push_back(std::move(target));
    });
    // The same bytes, read once.
    std::vector<Dumped> dumped(targets.size());
    uint64_t bytes = 0;
    for (size_t i = 0; i < targets.size(); ++i) {
      auto space = kernel.process_space(targets[i].pgd_physical, targets[i].label);
      dumped[i].blocks = yara_blocks(*space, targets[i].vmas);
      for (const Range& b : dumped[i].blocks) {
        std::vector<uint8_t> data(b.size);
        space->read(b.start, data.data(), data.size(), kReadPad);
        dumped[i].data.push_back(std::move(data));
        bytes += b.size;
      }
    }
    const double mib = static_cast<double>(bytes) / (1 << 20);

    std::ostringstream table;
    table << "| rules | YARA alone on the dumped bytes, 1 thread | yarascan's scan, 1 worker | yarascan's scan, all cores "
             "| run_plugin alone | fresh process: wall, CPU (ms), peak RSS |\n|---|---|---|---|---|---|\n";
    auto rate = [&](const Stats& s) { return fixed(s.median, 1) + " ms, " + fixed(mib / (s.median / 1e3), 0) + " MiB/s"; };
    for (size_t r = 0; r < rule_sets.size(); ++r) {
      YaraRules rules = YaraRules::from_string(rule_sets[r].second, rule_files[r]);
      int yara_matches = 0;
      auto yara_alone = timed(runs, [&] {
        for (const Dumped& d : dumped) {
          BufferIterator it{&d};
          YR_MEMORY_BLOCK_ITERATOR iterator{&it, first_block, next_block, nullptr, ERROR_SUCCESS};
          if (yr_rules_scan_mem_blocks(rules.get(), &iterator, SCAN_FLAGS_PROCESS_MEMORY, count_matches,
                                       &yara_matches, 0) != ERROR_SUCCESS)
            throw std::runtime_error("libyara failed");
        }
      });
      auto ours = [&](unsigned threads) {
        return timed(runs, [&] {
          YaraScanOptions o;
          o.threads = threads;
          o.progress = "";
          o.cancel = nullptr;
          YaraScanner scanner(kernel, rules, o);
          Warnings w;
          scanner.scan_processes(targets, w);
        });
      };
      auto one = ours(1), all = ours(0);
      PluginArgs args;
      args.add("yara-file", rule_files[r]);
      std::vector<double> alone{0.0};
      if (!scans_only) alone.clear();
      for (int i = 0; i < runs && !scans_only; ++i) {
        PluginResult result = run_plugin(*find_plugin("linux.yarascan"), session, args);
        if (!result.ok) throw std::runtime_error("linux.yarascan: " + result.error);
        alone.push_back(std::chrono::duration<double, std::milli>(result.elapsed).count());
      }
      table << "| " << rule_sets[r].first << " | " << rate(yara_alone.first) << " (CPU " << fixed(yara_alone.second.median, 1)
            << " ms, " << fixed(mib / (yara_alone.second.median / 1e3), 0) << " MiB per CPU-s) | " << rate(one.first) << " (CPU "
            << fixed(one.second.median, 1) << " ms, " << fixed(mib / (one.second.median / 1e3), 0)
            << " MiB per CPU-s) | " << rate(all.first) << " (CPU " << fixed(all.second.median, 1) << " ms) | " << fixed(stats(alone).median, 1) << " ms | " << range(fresh[r].wall, 1) << ", "
            << range(fresh[r].cpu, 1) << ", " << fixed(fresh[r].peak_rss_mib, 1) << " MiB |\n";
    }
    auto plugin_alone = [&](const char* name) {
      std::vector<double> times;
      size_t rows = 0;
      for (int i = 0; i < runs; ++i) {
        PluginResult result = run_plugin(*find_plugin(name), session, {});
        if (!result.ok) throw std::runtime_error(std::string(name) + ": " + result.error);
        times.push_back(std::chrono::duration<double, std::milli>(result.elapsed).count());
        rows = result.table.rows.size();
      }
      return std::make_pair(stats(times).median, rows);
    };
    fs::remove_all(dir);
    if (scans_only) {
      std::cout << "Image " << fs::path(image).filename().string() << ": " << targets.size()
                << " processes with memory, " << fixed(mib, 2) << " MiB of their pages in the image; " << runs
                << " scans of each kind (scans only).\n\n"
                << table.str();
      return 0;
    }
    auto [lsof_alone, lsof_rows] = plugin_alone("linux.lsof");
    auto [sockstat_alone, sockstat_rows] = plugin_alone("linux.sockstat");

    std::cout << "Image " << fs::path(image).filename().string() << ": " << targets.size() << " processes with memory, "
              << fixed(mib, 2) << " MiB of their pages in the image; " << runs
              << " runs, medians (min-max); ms.\n\n"
              << table.str() << "\n"
              << "| plugin | rows | fresh process: wall | CPU | peak RSS, MiB | run_plugin alone |\n|---|---|---|---|---|---|\n"
              << "| lsof | " << lsof_rows << " | " << range(lsof.wall, 1) << " | " << range(lsof.cpu, 1) << " | "
              << fixed(lsof.peak_rss_mib, 1) << " | " << fixed(lsof_alone, 2) << " |\n"
              << "| sockstat | " << sockstat_rows << " | " << range(sockstat.wall, 1) << " | " << range(sockstat.cpu, 1)
              << " | " << fixed(sockstat.peak_rss_mib, 1) << " | " << fixed(sockstat_alone, 2) << " |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_yarascan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
