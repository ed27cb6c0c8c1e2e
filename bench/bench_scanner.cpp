// Throughput of the physical scanner (core/physical_scanner.h) and the time
// kernel discovery takes, on real images and on a large synthetic buffer.
//
//   bench_scanner [--synthetic-mib N] [--repeat N] [IMAGE...]
//
// For each image: a full scan for the discovery patterns ("OSRELEASE=",
// "Linux version ", "swapper/0") with 1 thread and with every core, best of
// --repeat runs, then discover_linux_kernel without a profile. The synthetic
// buffer (default 1024 MiB, RAM-like: zero pages, random binary, text) is
// scanned zero-copy (a layer with peek()) and copied (a layer without), then
// refilled with the patterns' own letters as a worst case. "GB per
// CPU-second" divides by the process's CPU time, which stays meaningful on a
// machine busy with other work. Figures go to docs/kernel-discovery.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/util/error.h"
#include "core/linux/discovery/discovery.h"
#include "core/scan/physical_scanner.h"
#include "core/layers/format_registry.h"

using namespace memscope;

namespace {

// A physical space over a buffer in memory; zero-copy or not.
class BufferLayer : public AddressSpace {
 public:
  BufferLayer(const std::vector<uint8_t>& bytes, bool zero_copy) : bytes_(bytes), zero_copy_(zero_copy) {}
  std::string name() const override { return zero_copy_ ? "buffer (peek)" : "buffer (copy)"; }
  AddressSpace* below() const override { return nullptr; }
  uint64_t limit() const override { return bytes_.size(); }
  void ranges(const std::function<bool(const Range&)>& visit) const override { visit(Range{0, bytes_.size()}); }
  const uint8_t* peek(uint64_t address, size_t n) override {
    if (!zero_copy_ || address > bytes_.size() || n > bytes_.size() - address) return nullptr;
    return bytes_.data() + address;
  }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned) override {
    IoResult result;
    size_t take = address < bytes_.size() ? std::min<size_t>(n, bytes_.size() - address) : 0;
    std::memcpy(buffer, bytes_.data() + address, take);
    result.done = take;
    if (take < n) result.fault = Fault{address + take, name(), "past the end"};
    return result;
  }

 private:
  const std::vector<uint8_t>& bytes_;
  bool zero_copy_;
};

const std::vector<ScanPattern> kPatterns{{"OSRELEASE="}, {"Linux version "}, {std::string("swapper/0\0", 10)}};

struct Run {
  ScanStats stats;
  double cpu_seconds = 0;  // all threads of the process: immune to other load
};

// Best of `repeat` full scans (by wall-clock time).
Run best_scan(AddressSpace& space, unsigned threads, int repeat) {
  Run best;
  best.stats.seconds = 1e30;
  for (int i = 0; i < repeat; ++i) {
    ScanOptions options;
    options.threads = threads;
    std::clock_t cpu = std::clock();
    ScanStats stats = scan_physical(space, kPatterns, [](const ScanHit&) { return true; }, options);
    double cpu_seconds = static_cast<double>(std::clock() - cpu) / CLOCKS_PER_SEC;
    if (stats.seconds < best.stats.seconds) best = Run{stats, cpu_seconds};
  }
  return best;
}

void report(const std::string& what, AddressSpace& space, int repeat) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned threads : {1u, cores}) {
    if (threads == cores && cores == 1 && threads != 1) continue;
    Run run = best_scan(space, threads, repeat);
    const ScanStats& s = run.stats;
    double bytes = static_cast<double>(s.bytes_scanned);
    std::printf("| %s | %u | %.1f | %.3f | %.2f | %.2f | %llu |\n", what.c_str(), threads, bytes / (1 << 20), s.seconds,
                bytes / s.seconds / 1e9, run.cpu_seconds > 0 ? bytes / run.cpu_seconds / 1e9 : 0.0,
                static_cast<unsigned long long>(s.hits));
    if (cores == 1) break;
  }
}

}  // namespace

int main(int argc, char** argv) {
  size_t synthetic_mib = 1024;
  int repeat = 3;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--synthetic-mib" && i + 1 < argc)
      synthetic_mib = std::stoul(argv[++i]);
    else if (arg == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::stoi(argv[++i]));
    else
      images.push_back(arg);
  }
  std::printf("| input | threads | MiB | seconds | GB/s | GB per CPU-second | hits |\n|---|---|---|---|---|---|---|\n");
  try {
    for (const std::string& path : images) {
      auto image = open_image(path);
      report(path + " (" + image->format() + ")", *image, repeat);
    }
    if (synthetic_mib) {
      std::vector<uint8_t> bytes(synthetic_mib << 20);
      std::mt19937_64 rng(1);
      auto fill = [&](size_t from, size_t to, const char* alphabet, size_t letters) {
        for (size_t i = from; i < to; i += 8) {
          uint64_t r = rng();
          for (size_t k = 0; k < 8 && i + k < to; ++k)
            bytes[i + k] = alphabet ? static_cast<uint8_t>(alphabet[((r >> (8 * k)) & 0xff) % letters])
                                    : static_cast<uint8_t>(r >> (8 * k));
        }
      };
      // Like RAM: per 4 KiB page, half zero pages, a quarter random binary,
      // a quarter English-like text.
      const char text[] = "etaoin shrdlu cmfwyp vbgkqj xz ETAOIN SHRDLU\n.,";
      for (size_t page = 0; page < bytes.size(); page += 4096) {
        uint64_t kind = rng() % 4;
        if (kind == 2) fill(page, page + 4096, nullptr, 0);
        if (kind == 3) fill(page, page + 4096, text, sizeof text - 1);
      }
      BufferLayer mixed(bytes, true), mixed_copied(bytes, false);
      std::string size = std::to_string(synthetic_mib) + " MiB";
      report("synthetic " + size + " RAM-like, zero-copy", mixed, repeat);
      report("synthetic " + size + " RAM-like, copied (no peek)", mixed_copied, repeat);
      // Worst case: text made of the patterns' own letters, so that nearly
      // every position passes the first/last-byte filter.
      const char hostile[] = "Linux version OSRELEASE=swapper/0 abcdefgh\n";
      fill(0, bytes.size(), hostile, sizeof hostile);  // includes the NUL
      report("synthetic " + size + " of the patterns' letters (worst case)", mixed, repeat);
    }
    std::printf("\n| image | discovery (no profile, no notes) | method | seconds |\n|---|---|---|---|\n");
    for (const std::string& path : images) {
      auto image = open_image(path);
      auto started = std::chrono::steady_clock::now();
      LinuxKernelInfo info = discover_linux_kernel(*image, ImageNotes{}, nullptr);
      double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::printf("| %s | %s | %s | %.3f |\n", path.c_str(), info.os_release.c_str(), info.method.c_str(), seconds);
    }
  } catch (const Error& e) {
    std::fprintf(stderr, "bench_scanner: %s\n", e.what());
    return 1;
  }
  return 0;
}
