// Throughput of the scanning engine (core/scan/scan_engine.h) against
// memmem over the same mapped bytes, and the time kernel discovery takes.
//
//   bench_scanner [--dense-gib N] [--workdir DIR] [--synthetic-mib N] [--repeat N] [IMAGE...]
//
// - Dense: a raw image of N GiB (default 2) made in DIR (default /tmp) by
//   repeating the first IMAGE (a real memory image: zero pages, code, text),
//   written densely (no holes) and read once so that it is in the page
//   cache; deleted at the end. On it: the pattern scan for the discovery
//   patterns ("OSRELEASE=", "Linux version ", "swapper/0") and for
//   "Linux version " alone, with 1 thread and every core; the chunk visitor
//   doing nothing (the engine's own cost: mapping, populating, releasing);
//   and glibc memmem for "Linux version " over a fresh mapping of the same
//   file (page faults included, like a scan of an image not yet mapped) and
//   over a mapping already faulted in (the search alone), on 1 thread and
//   every core (the file cut in one piece per thread). Peak RSS growth of
//   each (VmHWM, reset between runs).
// - Each IMAGE as it is (all formats), 1 thread and every core.
// - A synthetic in-memory buffer (default 1024 MiB, RAM-like: zero pages,
//   random binary, text), read through a layer without a file (the calling
//   thread's peek), then refilled with the patterns' own letters (worst case).
// - discover_linux_kernel without a profile or notes on each IMAGE.
//
// Best of --repeat runs; "GB per CPU-second" divides by the process's CPU
// time, which stays meaningful on a machine busy with other work.
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench/support/clocks.h"
#include "bench/support/image_copies.h"
#include "bench/support/resident_memory.h"
#include "bench/support/timing.h"
#include "core/layers/format_registry.h"
#include "core/linux/discovery/discovery.h"
#include "core/scan/physical_scanner.h"
#include "core/scan/scan_engine.h"
#include "core/util/error.h"

using namespace memscope;
using namespace memscope::bench;

namespace {

// A physical space over a buffer in memory, with zero-copy peek().
class BufferLayer : public AddressSpace {
 public:
  explicit BufferLayer(const std::vector<uint8_t>& bytes) : bytes_(bytes) {}
  std::string name() const override { return "buffer"; }
  AddressSpace* below() const override { return nullptr; }
  uint64_t limit() const override { return bytes_.size(); }
  void ranges(const std::function<bool(const Range&)>& visit) const override { visit(Range{0, bytes_.size()}); }
  const uint8_t* peek(uint64_t address, size_t n) override {
    if (address > bytes_.size() || n > bytes_.size() - address) return nullptr;
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
};

const std::vector<ScanPattern> kDiscoveryPatterns{
    {"OSRELEASE="}, {"Linux version "}, {std::string("swapper/0\0", 10)}};
const std::string kBanner = "Linux version ";

struct Measure {
  double seconds = 1e30, cpu = 0, rss_growth = 0;
  uint64_t bytes = 0, hits = 0;
};

// Best of `repeat` runs of `job` (by wall time); job returns (bytes, hits).
Measure best_of(int repeat, const std::function<std::pair<uint64_t, uint64_t>()>& job) {
  Measure best;
  for (int i = 0; i < repeat; ++i) {
    // Peak RSS growth: VmHWM restarted from the resident size before the job.
    const double base = resident_memory_now().total_kib / 1024.0;
    reset_peak_resident();
    std::pair<uint64_t, uint64_t> found;
    const Elapsed elapsed = time_once([&] { found = job(); }, CpuTime::whole_process);
    const double growth = resident_memory_now().peak_kib / 1024.0 - base;
    if (elapsed.wall_s < best.seconds)
      best = Measure{elapsed.wall_s, elapsed.cpu_s, std::max(0.0, growth), found.first, found.second};
  }
  return best;
}

void row(const std::string& what, unsigned threads, const Measure& m) {
  double bytes = static_cast<double>(m.bytes);
  std::printf("| %s | %u | %.0f | %.3f | %.2f | %.2f | %.1f | %llu |\n", what.c_str(), threads, bytes / (1 << 20),
              m.seconds, bytes / m.seconds / 1e9, m.cpu > 0 ? bytes / m.cpu / 1e9 : 0.0, m.rss_growth,
              static_cast<unsigned long long>(m.hits));
  std::fflush(stdout);
}

Measure scan(AddressSpace& space, const std::vector<ScanPattern>& patterns, unsigned threads, int repeat) {
  return best_of(repeat, [&]() -> std::pair<uint64_t, uint64_t> {
    ScanOptions options;
    options.threads = threads;
    ScanStats s = scan_physical(space, patterns, [](const ScanHit&) { return true; }, options);
    return {s.bytes_scanned, s.hits};
  });
}

Measure visit_only(AddressSpace& space, unsigned threads, int repeat) {
  return best_of(repeat, [&]() -> std::pair<uint64_t, uint64_t> {
    ScanOptions options;
    options.threads = threads;
    std::atomic<uint64_t> sum{0};
    ScanStats s = scan_chunks(
        space, [&](const ScanChunk& c, CandidateSink&) { sum += c.data[0] + c.data[c.size - 1]; }, {}, options);
    return {s.bytes_scanned, sum.load() & 0};
  });
}

// memmem for `needle` over [data, data + size) on `threads` threads (one
// piece each, overlapping by the needle's length - 1).
uint64_t memmem_count(const uint8_t* data, size_t size, const std::string& needle, unsigned threads) {
  std::atomic<uint64_t> count{0};
  auto piece = [&](size_t from, size_t to) {
    uint64_t found = 0;
    const uint8_t* at = data + from;
    const uint8_t* end = data + std::min(size, to + needle.size() - 1);
    while (at < end) {
      auto* hit = static_cast<const uint8_t*>(memmem(at, static_cast<size_t>(end - at), needle.data(), needle.size()));
      if (!hit || hit >= data + to) break;
      ++found;
      at = hit + 1;
    }
    count += found;
  };
  std::vector<std::thread> pool;
  size_t step = (size / threads + 4095) / 4096 * 4096;
  for (unsigned t = 0; t < threads; ++t) {
    size_t from = std::min(size, t * step), to = std::min(size, from + step);
    if (t + 1 == threads) to = size;
    pool.emplace_back(piece, from, to);
  }
  for (auto& thread : pool) thread.join();
  return count;
}

void dense_benchmark(const std::string& source, const std::string& workdir, uint64_t gib, int repeat) {
  const std::string path = workdir + "/bench_scanner-dense-" + std::to_string(::getpid()) + ".raw";
  const uint64_t size = gib << 30;
  // Writes of 2 MiB or more, as the published figures were taken (the
  // image written whole at each repeat): see make_dense_copy.
  make_dense_copy(source, path, size, size_t{8} << 20);
  struct Remove {
    std::string path;
    ~Remove() { std::filesystem::remove(path); }
  } remove{path};
  int fd = ::open(path.c_str(), O_RDONLY);
  {
    // Into the page cache.
    std::vector<char> buffer(8 << 20);
    while (::read(fd, buffer.data(), buffer.size()) > 0) {
    }
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  std::printf("\nDense %llu GiB raw image (repeats of %s), in the page cache:\n\n",
              static_cast<unsigned long long>(gib), source.c_str());
  std::printf("| what | threads | MiB | seconds | GB/s | GB per CPU-second | peak RSS growth MiB | hits |\n"
              "|---|---|---|---|---|---|---|---|\n");
  auto image = open_image(path);
  for (unsigned threads : {1u, cores}) {
    row("engine: the 3 discovery patterns", threads, scan(*image, kDiscoveryPatterns, threads, repeat));
    row("engine: \"Linux version \" alone", threads, scan(*image, {{kBanner}}, threads, repeat));
    row("engine: chunk visitor doing nothing", threads, visit_only(*image, threads, repeat));
    row("memmem \"Linux version \", fresh mapping", threads, best_of(repeat, [&]() -> std::pair<uint64_t, uint64_t> {
          void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED, fd, 0);
          uint64_t hits = memmem_count(static_cast<const uint8_t*>(map), size, kBanner, threads);
          ::munmap(map, size);
          return {size, hits};
        }));
    if (cores == 1) break;
  }
  // The search alone: a mapping faulted in once (resident: as big as the file).
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
  for (unsigned threads : {1u, cores}) {
    row("memmem \"Linux version \", mapping already faulted in", threads,
        best_of(repeat, [&]() -> std::pair<uint64_t, uint64_t> {
          return {size, memmem_count(static_cast<const uint8_t*>(map), size, kBanner, threads)};
        }));
    if (cores == 1) break;
  }
  ::munmap(map, size);
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  size_t synthetic_mib = 1024;
  uint64_t dense_gib = 2;
  std::string workdir = "/tmp";
  int repeat = 3;
  std::vector<std::string> images;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--synthetic-mib" && i + 1 < argc)
      synthetic_mib = std::stoul(argv[++i]);
    else if (arg == "--dense-gib" && i + 1 < argc)
      dense_gib = std::stoull(argv[++i]);
    else if (arg == "--workdir" && i + 1 < argc)
      workdir = argv[++i];
    else if (arg == "--repeat" && i + 1 < argc)
      repeat = std::max(1, std::stoi(argv[++i]));
    else
      images.push_back(arg);
  }
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  try {
    if (!images.empty() && dense_gib) dense_benchmark(images.front(), workdir, dense_gib, repeat);

    std::printf("\n| input | threads | MiB | seconds | GB/s | GB per CPU-second | peak RSS growth MiB | hits |\n"
                "|---|---|---|---|---|---|---|---|\n");
    for (const std::string& path : images) {
      auto image = open_image(path);
      for (unsigned threads : {1u, cores}) {
        row(path + " (" + image->format() + ")", threads, scan(*image, kDiscoveryPatterns, threads, repeat));
        if (cores == 1) break;
      }
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
      BufferLayer mixed(bytes);
      std::string size = std::to_string(synthetic_mib) + " MiB";
      for (unsigned threads : {1u, cores}) {
        row("synthetic " + size + " RAM-like in memory", threads, scan(mixed, kDiscoveryPatterns, threads, repeat));
        if (cores == 1) break;
      }
      // Worst case: text made of the patterns' own letters, so that nearly
      // every position passes the first/last-byte filter.
      const char hostile[] = "Linux version OSRELEASE=swapper/0 abcdefgh\n";
      fill(0, bytes.size(), hostile, sizeof hostile);  // includes the NUL
      for (unsigned threads : {1u, cores}) {
        row("synthetic " + size + " of the patterns' letters (worst case)", threads,
            scan(mixed, kDiscoveryPatterns, threads, repeat));
        if (cores == 1) break;
      }
    }
    std::printf("\n| image | discovery (no profile, no notes) | method | seconds |\n|---|---|---|---|\n");
    for (const std::string& path : images) {
      auto image = open_image(path);
      auto started = Clock::now();
      LinuxKernelInfo info = discover_linux_kernel(*image, ImageNotes{}, nullptr);
      double seconds = seconds_since(started);
      std::printf("| %s | %s | %s | %.3f |\n", path.c_str(), info.os_release.c_str(), info.method.c_str(), seconds);
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_scanner: %s\n", e.what());
    return 1;
  }
  return 0;
}
