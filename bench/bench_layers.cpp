// Throughput of the address-space stack on a real image:
//   - sequential physical reads (GB/s) against memcpy from the mmap'd file;
//   - random 8-byte kernel-virtual reads through the paging layer, with a
//     warm translation cache and a cold one (flushed before every read);
//   - the same random reads through the C API (kvm_read);
//   - memcpy of 8 bytes at the same physical places: the physical limit.
//
// Usage: bench_layers IMAGE [--reads N] [--repeat R]
// The kernel is found by discovery (VMCOREINFO or the image's CPU notes);
// no profile is needed.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "core/session/session.h"
#include "memscope/kvm.h"

using namespace memscope;
using Clock = std::chrono::steady_clock;

namespace {

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

// Best of `repeat` runs of `body`, in seconds.
template <typename F>
double best_of(int repeat, F&& body) {
  double best = 1e30;
  for (int i = 0; i < repeat; ++i) {
    auto start = Clock::now();
    body();
    best = std::min(best, seconds_since(start));
  }
  return best;
}

volatile uint64_t sink;  // keeps the reads from being optimised away

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: bench_layers IMAGE [--reads N] [--repeat R]\n");
    return 2;
  }
  std::string image = argv[1];
  size_t reads = 2'000'000;
  int repeat = 5;
  for (int i = 2; i + 1 < argc; i += 2) {
    if (std::string(argv[i]) == "--reads") reads = std::stoul(argv[i + 1]);
    if (std::string(argv[i]) == "--repeat") repeat = std::stoi(argv[i + 1]);
  }

  SessionOptions options;
  options.image = image;
  Session session(options);
  X86_64Paging& kernel = session.kernel_space();
  MappedFile file(image);

  // Sequential physical reads, 1 MiB at a time, over every range.
  std::vector<uint8_t> buffer(1 << 20);
  uint64_t total = 0;
  session.image().ranges([&](const Range& r) { total += r.size; return true; });
  double seq = best_of(repeat, [&] {
    session.image().ranges([&](const Range& r) {
      for (uint64_t at = r.start; at < r.end(); at += buffer.size())
        session.physical().read(at, buffer.data(), std::min<uint64_t>(buffer.size(), r.end() - at));
      return true;
    });
  });
  double seq_memcpy = best_of(repeat, [&] {
    for (uint64_t at = 0; at < file.size(); at += buffer.size())
      std::memcpy(buffer.data(), file.data() + at, std::min<uint64_t>(buffer.size(), file.size() - at));
  });

  // Kernel-virtual 4 KiB pages backed by the image, and the file offsets
  // behind them (for the memcpy baseline).
  struct Page {
    uint64_t vaddr;
    const uint8_t* host;
  };
  std::vector<Page> pages;
  kernel.for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t size, const Translation&) {
    for (uint64_t off = 0; off < size && pages.size() < (1u << 20); off += 4096) {
      const uint8_t* host = kernel.peek(vaddr + off, 8);
      if (host) pages.push_back({vaddr + off, host});
    }
    return pages.size() < (1u << 20);
  });
  if (pages.empty()) {
    std::fprintf(stderr, "no kernel pages mapped\n");
    return 1;
  }
  std::mt19937_64 rng(42);
  std::vector<size_t> order(reads);
  // Warm: a working set of 1024 pages, which the translation cache holds.
  const size_t warm_pages = std::min<size_t>(1024, pages.size());
  std::uniform_int_distribution<size_t> warm_pick(0, warm_pages - 1), all_pick(0, pages.size() - 1);
  std::uniform_int_distribution<uint64_t> offset_pick(0, 4096 / 8 - 1);
  std::vector<uint64_t> offsets(reads);
  for (size_t i = 0; i < reads; ++i) {
    order[i] = warm_pick(rng);
    offsets[i] = offset_pick(rng) * 8;
  }

  uint64_t value = 0;
  double memcpy_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      std::memcpy(&value, pages[order[i]].host + offsets[i], 8);
      sink = value;
    }
  });
  double paging_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      kernel.read(pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  double cached_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      kernel.read_cached(pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  size_t cold_reads = reads / 10;
  std::vector<size_t> cold_order(cold_reads);
  for (auto& index : cold_order) index = all_pick(rng);
  double paging_cold = best_of(repeat, [&] {
    for (size_t i = 0; i < cold_reads; ++i) {
      kernel.flush_cache();
      kernel.read(pages[cold_order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });

  char errbuf[KVM_ERRBUF_SIZE];
  kvm_t* kd = kvm_openfiles(nullptr, image.c_str(), nullptr, O_RDONLY, errbuf);
  if (!kd) {
    std::fprintf(stderr, "kvm_openfiles: %s\n", errbuf);
    return 1;
  }
  double kvm_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      kvm_read(kd, pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  kvm_close(kd);

  auto per_read_ns = [&](double s, size_t n) { return s * 1e9 / static_cast<double>(n); };
  std::printf("image: %s (%s, %.0f MiB mapped, %zu kernel pages backed by the file)\n", image.c_str(),
              session.image().format().c_str(), static_cast<double>(total) / (1 << 20), pages.size());
  std::printf("sequential physical read: %.2f GB/s (memcpy from the mmap: %.2f GB/s)\n",
              static_cast<double>(total) / seq / 1e9, static_cast<double>(file.size()) / seq_memcpy / 1e9);
  std::printf("random 8-byte reads, warm (1024-page working set):\n");
  std::printf("  memcpy from the mmap:     %7.1f ns/read  %6.1f M reads/s\n", per_read_ns(memcpy_warm, reads),
              reads / memcpy_warm / 1e6);
  std::printf("  paging layer:             %7.1f ns/read  %6.1f M reads/s  (%.2fx memcpy)\n",
              per_read_ns(paging_warm, reads), reads / paging_warm / 1e6, paging_warm / memcpy_warm);
  std::printf("  paging read_cached:       %7.1f ns/read  %6.1f M reads/s  (%.2fx memcpy)\n",
              per_read_ns(cached_warm, reads), reads / cached_warm / 1e6, cached_warm / memcpy_warm);
  std::printf("  kvm_read (C API):         %7.1f ns/read  %6.1f M reads/s  (%.2fx memcpy)\n",
              per_read_ns(kvm_warm, reads), reads / kvm_warm / 1e6, kvm_warm / memcpy_warm);
  std::printf("random 8-byte reads, cold (cache flushed before each read, %zu pages):\n", pages.size());
  std::printf("  paging layer:             %7.1f ns/read  %6.1f M reads/s\n", per_read_ns(paging_cold, cold_reads),
              cold_reads / paging_cold / 1e6);
  return 0;
}
