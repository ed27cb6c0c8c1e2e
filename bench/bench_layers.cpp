// Throughput of the address-space stack on a real image:
//   - sequential physical reads (GB/s) against memcpy from the mmap'd file;
//   - random 8-byte kernel-virtual reads through the paging layer, with a
//     warm translation cache and a cold one (flushed before every read):
//     read() on the X86_64Paging (the inline hit path) and on an
//     AddressSpace& (a virtual call, as generic code pays);
//   - peek() + memcpy through an AddressSpace&, the way typed objects read;
//   - random 8-byte physical reads through the overlay;
//   - the same random kernel reads through the C API (kvm_read);
//   - memcpy of 8 bytes at the same physical places: the physical limit.
// Each figure is the best of R runs, in wall-clock time and in the thread's
// CPU time (steadier on a shared machine).
//
// Usage: bench_layers IMAGE [--reads N] [--repeat R]
// The kernel is found by discovery (VMCOREINFO or the image's CPU notes);
// no profile is needed.
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "bench/support/timing.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "core/session/session.h"
#include "memscope/kvm.h"

using namespace memscope;
using namespace memscope::bench;

namespace {

struct Timing {
  double wall = 1e30;  // seconds, best run
  double cpu = 1e30;   // thread CPU seconds, best run
};

// Best of `repeat` runs of `body`.
template <typename F>
Timing best_of(int repeat, F&& body) {
  Timing best;
  for (int i = 0; i < repeat; ++i) {
    const Elapsed elapsed = time_once(body);
    best.wall = std::min(best.wall, elapsed.wall_s);
    best.cpu = std::min(best.cpu, elapsed.cpu_s);
  }
  return best;
}

// Hides the dynamic type from the optimiser, so that a call through the
// result is the virtual call generic code makes.
AddressSpace& opaque(AddressSpace& space) {
  AddressSpace* pointer = &space;
  asm volatile("" : "+r"(pointer));
  return *pointer;
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
  Timing seq = best_of(repeat, [&] {
    session.image().ranges([&](const Range& r) {
      for (uint64_t at = r.start; at < r.end(); at += buffer.size())
        session.physical().read(at, buffer.data(), std::min<uint64_t>(buffer.size(), r.end() - at));
      return true;
    });
  });
  Timing seq_memcpy = best_of(repeat, [&] {
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

  // The physical addresses behind the same reads, for the overlay path.
  std::vector<uint64_t> physical(reads);
  for (size_t i = 0; i < reads; ++i)
    physical[i] = kernel.translate(pages[order[i]].vaddr + offsets[i])->physical;
  AddressSpace& generic_kernel = opaque(kernel);
  AddressSpace& generic_physical = opaque(session.physical());

  uint64_t value = 0;
  Timing memcpy_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      std::memcpy(&value, pages[order[i]].host + offsets[i], 8);
      sink = value;
    }
  });
  Timing paging_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      kernel.read(pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  Timing generic_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      generic_kernel.read(pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  Timing peek_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      if (const uint8_t* bytes = generic_kernel.peek(pages[order[i]].vaddr + offsets[i], 8))
        std::memcpy(&value, bytes, 8);
      sink = value;
    }
  });
  Timing physical_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      generic_physical.read(physical[i], &value, 8);
      sink = value;
    }
  });
  size_t cold_reads = reads / 10;
  std::vector<size_t> cold_order(cold_reads);
  for (auto& index : cold_order) index = all_pick(rng);
  Timing paging_cold = best_of(repeat, [&] {
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
  Timing kvm_warm = best_of(repeat, [&] {
    for (size_t i = 0; i < reads; ++i) {
      kvm_read(kd, pages[order[i]].vaddr + offsets[i], &value, 8);
      sink = value;
    }
  });
  kvm_close(kd);

  std::printf("image: %s (%s, %.0f MiB mapped, %zu kernel pages backed by the file)\n", image.c_str(),
              session.image().format().c_str(), static_cast<double>(total) / (1 << 20), pages.size());
  std::printf("sequential physical read: %.2f GB/s (memcpy from the mmap: %.2f GB/s)\n",
              static_cast<double>(total) / seq.wall / 1e9, static_cast<double>(file.size()) / seq_memcpy.wall / 1e9);
  auto report = [&](const char* what, const Timing& t, size_t n, bool versus_memcpy) {
    double wall_ns = t.wall * 1e9 / static_cast<double>(n), cpu_ns = t.cpu * 1e9 / static_cast<double>(n);
    std::printf("  %-34s %6.1f ns/read wall  %6.1f ns/read CPU", what, wall_ns, cpu_ns);
    if (versus_memcpy) std::printf("  (%.2fx memcpy, CPU)", t.cpu / memcpy_warm.cpu);
    std::printf("\n");
  };
  std::printf("random 8-byte reads, warm (1024-page working set), best of %d:\n", repeat);
  report("memcpy from the mmap", memcpy_warm, reads, false);
  report("kernel read(), X86_64Paging&", paging_warm, reads, true);
  report("kernel read(), AddressSpace&", generic_warm, reads, true);
  report("kernel peek() + memcpy, AddressSpace&", peek_warm, reads, true);
  report("physical read() through the overlay", physical_warm, reads, true);
  report("kvm_read (C API)", kvm_warm, reads, true);
  std::printf("random 8-byte reads, cold (cache flushed before each read, %zu pages):\n", pages.size());
  report("kernel read(), X86_64Paging&", paging_cold, cold_reads, false);
  return 0;
}
