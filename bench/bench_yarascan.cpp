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
#include <unistd.h>
#include <yara.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/command_line.h"
#include "bench/support/plugin_alone.h"
#include "bench/support/process_run.h"
#include "bench/support/statistics.h"
#include "bench/support/timing.h"
#include "core/linux/processes.h"
#include "core/linux/vmas.h"
#include "core/linux/yara_scan.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"

using namespace memscope::bench;

namespace {

namespace fs = std::filesystem;

// Wall and CPU (every thread) ms of `work` over `runs`.
std::pair<Stats, Stats> timed(int runs, const std::function<void()>& work) {
  std::vector<double> wall, cpu;
  for (int i = 0; i < runs; ++i) {
    const Elapsed elapsed = time_once(work, CpuTime::whole_process);
    wall.push_back(elapsed.wall_s * 1e3);
    cpu.push_back(elapsed.cpu_s * 1e3);
  }
  return {stats_of(wall), stats_of(cpu)};
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
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& a = args.current();
    if (a == "--image") image = args.value();
    else if (a == "--profile") profile = args.value();
    else if (a == "--cli") cli = args.value();
    else if (a == "--runs") runs = std::stoi(args.value());
    else if (a == "--workdir") workdir = args.value();
    else if (a == "--rules") only_rules = args.value();
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
      const ProcessOptions must_succeed{.must_succeed = true};
      for (size_t i = 0; i < rule_files.size(); ++i)
        fresh[i] = repeat_process(
            {cli, "linux.yarascan", "-f", image, "-p", profile, "--yara-file", rule_files[i], "-o", "json"}, runs,
            must_succeed);
      lsof = repeat_process({cli, "linux.lsof", "-f", image, "-p", profile, "-o", "json"}, runs, must_succeed);
      sockstat = repeat_process({cli, "linux.sockstat", "-f", image, "-p", profile, "-o", "json"}, runs, must_succeed);
    }

    std::unique_ptr<Session> session = open_session(image, profile);
    KernelView kernel = kernel_view(*session);
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
      const double alone = scans_only ? 0.0 : time_plugin_alone(*session, "linux.yarascan", args, runs).wall_ms.median;
      table << "| " << rule_sets[r].first << " | " << rate(yara_alone.first) << " (CPU "
            << fixed(yara_alone.second.median, 1) << " ms, " << fixed(mib / (yara_alone.second.median / 1e3), 0)
            << " MiB per CPU-s) | " << rate(one.first) << " (CPU " << fixed(one.second.median, 1) << " ms, "
            << fixed(mib / (one.second.median / 1e3), 0) << " MiB per CPU-s) | " << rate(all.first) << " (CPU "
            << fixed(all.second.median, 1) << " ms) | " << fixed(alone, 1) << " ms | "
            << median_and_range(fresh[r].wall_ms, 1) << ", " << median_and_range(fresh[r].cpu_ms, 1) << ", "
            << fixed(fresh[r].peak_rss_mib, 1) << " MiB |\n";
    }
    fs::remove_all(dir);
    if (scans_only) {
      std::cout << "Image " << fs::path(image).filename().string() << ": " << targets.size()
                << " processes with memory, " << fixed(mib, 2) << " MiB of their pages in the image; " << runs
                << " scans of each kind (scans only).\n\n"
                << table.str();
      return 0;
    }
    const PluginAlone lsof_alone = time_plugin_alone(*session, "linux.lsof", {}, runs);
    const PluginAlone sockstat_alone = time_plugin_alone(*session, "linux.sockstat", {}, runs);

    std::cout << "Image " << fs::path(image).filename().string() << ": " << targets.size() << " processes with memory, "
              << fixed(mib, 2) << " MiB of their pages in the image; " << runs
              << " runs, medians (min-max); ms.\n\n"
              << table.str() << "\n"
              << "| plugin | rows | fresh process: wall | CPU | peak RSS, MiB | run_plugin alone |\n|---|---|---|---|---|---|\n"
              << "| lsof | " << lsof_alone.last_table.rows.size() << " | " << median_and_range(lsof.wall_ms, 1) << " | "
              << median_and_range(lsof.cpu_ms, 1) << " | " << fixed(lsof.peak_rss_mib, 1) << " | "
              << fixed(lsof_alone.wall_ms.median, 2) << " |\n"
              << "| sockstat | " << sockstat_alone.last_table.rows.size() << " | "
              << median_and_range(sockstat.wall_ms, 1) << " | " << median_and_range(sockstat.cpu_ms, 1) << " | "
              << fixed(sockstat.peak_rss_mib, 1) << " | " << fixed(sockstat_alone.wall_ms.median, 2) << " |\n";
  } catch (const std::exception& e) {
    std::cerr << "bench_yarascan: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
