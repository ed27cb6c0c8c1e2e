// Throughput of the physical scanner (core/physical_scanner.h) and the time
// kernel discovery takes, on real images and on a large synthetic buffer.
//
//   bench_scanner [--synthetic-mib N] [--repeat N] [IMAGE...]
//
// For each image: a full scan for the discovery patterns ("OSRELEASE=",
// "Linux version ", "swapper/0") with 1 thread and with every core, best of
// --repeat runs, then discover_linux_kernel without a profile. The synthetic
// buffer (default 1024 MiB of text-like random bytes) is scanned zero-copy
// (a layer with peek()) and copied (a layer without). Figures go to
// docs/kernel-discovery.md.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "core/error.h"
#include "core/linux_discovery.h"
#include "core/physical_scanner.h"
#include "formats/registry.h"

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

// Best of `repeat` full scans.
ScanStats best_scan(AddressSpace& space, unsigned threads, int repeat) {
  ScanStats best;
  best.seconds = 1e30;
  for (int i = 0; i < repeat; ++i) {
    ScanOptions options;
    options.threads = threads;
    ScanStats stats = scan_physical(
        space, kPatterns, [](const ScanHit&) { return true; }, options);
    if (stats.seconds < best.seconds) best = stats;
  }
  return best;
}

void report(const std::string& what, AddressSpace& space, int repeat) {
  unsigned cores = std::max(1u, std::thread::hardware_concurrency());
  for (unsigned threads : {1u, cores}) {
    if (threads == cores && cores == 1 && threads != 1) continue;
    ScanStats s = best_scan(space, threads, repeat);
    std::printf("| %s | %u | %.1f | %.3f | %.2f | %llu |\n", what.c_str(), threads,
                static_cast<double>(s.bytes_scanned) / (1 << 20), s.seconds,
                static_cast<double>(s.bytes_scanned) / s.seconds / 1e9, static_cast<unsigned long long>(s.hits));
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
  std::printf("| input | threads | MiB | seconds | GB/s | hits |\n|---|---|---|---|---|---|\n");
  try {
    for (const std::string& path : images) {
      auto image = open_image(path);
      report(path + " (" + image->format() + ")", *image, repeat);
    }
    if (synthetic_mib) {
      // Text-like random bytes: many partial matches of the patterns'
      // first and last bytes, the scanner's worst realistic case.
      std::vector<uint8_t> bytes(synthetic_mib << 20);
      std::mt19937_64 rng(1);
      const char alphabet[] = "Linux version OSRELEASE=swapper/0 abcdefgh\n\0";
      for (size_t i = 0; i < bytes.size(); i += 8) {
        uint64_t r = rng();
        for (size_t k = 0; k < 8 && i + k < bytes.size(); ++k)
          bytes[i + k] = static_cast<uint8_t>(alphabet[((r >> (8 * k)) & 0xff) % (sizeof alphabet - 1)]);
      }
      BufferLayer zero_copy(bytes, true), copied(bytes, false);
      report("synthetic " + std::to_string(synthetic_mib) + " MiB, zero-copy", zero_copy, repeat);
      report("synthetic " + std::to_string(synthetic_mib) + " MiB, copied", copied, repeat);
      std::vector<uint8_t> zeros(synthetic_mib << 20, 0);
      BufferLayer zero_pages(zeros, true);
      report("synthetic " + std::to_string(synthetic_mib) + " MiB of zeros, zero-copy", zero_pages, repeat);
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
