// Seekable LZ4 figures for docs/formats/lz4-seekable.md ("Performance"):
//   compression ratio and convert throughput (1 and 2 threads),
//   random 4 KiB physical reads per second (warm and cold chunk cache) against
//   the raw image read through its mmap'd layer,
//   sequential read GB/s against `lz4 -d` to /dev/null on the same file.
//
//   bench_lz4 [--fixture IMAGE] [--synthetic-gib N] [--workdir DIR] [--reads N]
//
// IMAGE is any image memscope reads (e.g. the 6.1 fixture's image.raw); the
// synthetic image is generated on the fly (a mix of zero, text-like, table-
// like and random pages, roughly what a live machine holds) and also written
// raw for the comparison. Run it on an idle machine: figures are wall-clock.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "bench/support/process_run.h"
#include "bench/support/timing.h"
#include "core/layers/chunk_cache.h"
#include "core/util/error.h"
#include "core/layers/physical_layer.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"

using namespace memscope;
using namespace memscope::bench;
namespace fs = std::filesystem;

namespace {

// Deterministic memory-like pages, generated on demand.
class SyntheticImage : public PhysicalLayer {
 public:
  explicit SyntheticImage(uint64_t size) : size_(size) {}
  std::string format() const override { return "synthetic"; }
  const std::string& path() const override { return path_; }
  uint64_t file_size() const override { return size_; }
  uint64_t limit() const override { return size_; }
  void ranges(const std::function<bool(const Range&)>& visit) const override { visit(Range{0, size_}); }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned) override {
    auto* out = static_cast<uint8_t*>(buffer);
    IoResult r;
    while (r.done < n) {
      uint64_t at = address + r.done;
      if (at >= size_) {
        r.fault = Fault{at, "synthetic", "beyond the end"};
        return r;
      }
      uint64_t page = at / 4096;
      size_t inside = at % 4096;
      size_t take = std::min<size_t>(n - r.done, 4096 - inside);
      uint8_t bytes[4096];
      fill_page(page, bytes);
      std::memcpy(out + r.done, bytes + inside, take);
      r.done += take;
    }
    return r;
  }

 private:
  static uint64_t mix(uint64_t x) {
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdull;
    x ^= x >> 33;
    x *= 0xc4ceb9fe1a85ec53ull;
    return x ^ (x >> 33);
  }
  static void fill_page(uint64_t page, uint8_t* p) {
    // Regions of 64 pages share a kind, like allocations do.
    uint64_t kind = mix(page / 64) % 100;
    uint64_t seed = mix(page);
    if (kind < 45) {  // free memory: zeros
      std::memset(p, 0, 4096);
    } else if (kind < 70) {  // text and strings
      static const char words[] = "kernel task_struct /usr/lib/systemd memscope process user root bash ";
      for (size_t i = 0; i < 4096; ++i) p[i] = static_cast<uint8_t>(words[(i * 7 + seed % 13 + i / 97) % (sizeof words - 1)]);
    } else if (kind < 90) {  // tables: pointers and small integers
      for (size_t i = 0; i < 4096; i += 8) {
        uint64_t v = (i / 8) % 3 == 0 ? 0xffff888000000000ull + ((seed + i * 64) & 0xfffffff) * 64 : (seed + i) % 256;
        std::memcpy(p + i, &v, 8);
      }
    } else {  // compressed or encrypted data: incompressible
      uint64_t x = seed;
      for (size_t i = 0; i < 4096; i += 8) {
        x = mix(x + i);
        std::memcpy(p + i, &x, 8);
      }
    }
  }
  uint64_t size_;
  std::string path_ = "<synthetic>";
};

struct Figures {
  std::string name;
  uint64_t data = 0, compressed = 0;
  Rate convert_mbs[2];
  Rate raw_random, warm_random, cold_random;
  Rate seq_gbs, lz4d_gbs, lz4d_plain_gbs;
};

Rate random_reads(PhysicalLayer& layer, uint64_t span_start, uint64_t span, size_t reads, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> addresses(reads);
  for (auto& a : addresses) a = span_start + (rng() % (span / 4096)) * 4096;
  uint8_t buf[4096];
  uint64_t sink = 0;
  const Elapsed elapsed = time_once([&] {
    for (uint64_t a : addresses) {
      layer.read(a, buf, sizeof buf, kReadPad);
      sink += buf[a % 4096];
    }
  });
  if (sink == 42) std::fputs("", stderr);
  return elapsed.rate(double(reads));
}

// Bytes per second (in GB/s, of wall time and of the command's CPU time)
// of a command that processes `bytes`, its output to /dev/null.
Rate time_command(const std::vector<std::string>& argv, uint64_t bytes) {
  const ProcessRun run = run_process(argv);
  if (!run.ok) return {};
  return Elapsed{run.wall_ms / 1e3, run.cpu_ms / 1e3}.rate(double(bytes) / 1e9);
}

Figures measure(const std::string& name, PhysicalLayer& source, const std::string& raw_path,
                const std::string& workdir, size_t reads) {
  Figures f;
  f.name = name;
  std::string out = workdir + "/" + name + ".lz4s";
  for (unsigned threads : {1u, 2u}) {
    fs::remove(out);
    Lz4WriteOptions options;
    options.threads = threads;
    options.hash_source_file = false;  // the figure is compression; hashing the source is measured apart
    Lz4WriteResult r;
    const Elapsed elapsed = time_once([&] { r = write_lz4_seekable(source, out, options); }, CpuTime::whole_process);
    f.data = r.data_bytes;
    f.compressed = r.output_bytes;
    f.convert_mbs[threads - 1] = elapsed.rate(double(r.data_bytes) / 1e6);
    std::fprintf(stderr, "%s: convert with %u thread(s): %.2f s\n", name.c_str(), threads, elapsed.wall_s);
  }

  auto raw = open_image(raw_path);
  uint64_t limit = raw->limit();
  // Warm: a 64 MiB working set (a plugin's kernel structures), read twice.
  uint64_t warm_span = std::min<uint64_t>(limit, 64ull << 20);
  uint64_t warm_start = limit / 3 / 4096 * 4096;
  if (warm_start + warm_span > limit) warm_start = 0;
  random_reads(*raw, warm_start, warm_span, reads, 1);
  f.raw_random = random_reads(*raw, warm_start, warm_span, reads, 2);
  {
    ChunkCache cache(ChunkCache::default_capacity());
    auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(out), cache);
    random_reads(*layer, warm_start, warm_span, reads, 1);
    f.warm_random = random_reads(*layer, warm_start, warm_span, reads, 2);
  }
  {
    // Cold: every read lands in a chunk not yet decompressed (over the whole image).
    ChunkCache cache(ChunkCache::default_capacity());
    auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(out), cache);
    size_t cold = std::min<size_t>(reads, layer->chunk_count() / 2 + 1);
    f.cold_random = random_reads(*layer, 0, limit, cold, 3);
  }
  {
    ChunkCache cache(ChunkCache::default_capacity());
    auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(out), cache);
    std::vector<uint8_t> buf(1 << 20);
    f.seq_gbs = time_once([&] {
                  layer->ranges([&](const Range& range) {
                    for (uint64_t at = range.start; at < range.end(); at += buf.size())
                      layer->read_exact(at, buf.data(), std::min<uint64_t>(buf.size(), range.end() - at));
                    return true;
                  });
                }).rate(double(f.data) / 1e9);
  }
  f.lz4d_gbs = time_command({"lz4", "-d", "-c", out}, f.data);
  std::string plain = workdir + "/" + name + ".plain.lz4";
  if (run_process({"lz4", "-q", "-f", "-1", raw_path, plain}).ok) {
    f.lz4d_plain_gbs = time_command({"lz4", "-d", "-c", plain}, fs::file_size(raw_path));
    fs::remove(plain);
  }
  fs::remove(out);
  return f;
}

void print(const std::vector<Figures>& all) {
  std::printf("Convert (level 1, 1 MiB chunks, fsync included): MB/s wall clock / MB per CPU-second of the process\n\n");
  std::printf("| image | data | seekable lz4 | ratio | convert 1 thread | convert 2 threads |\n");
  std::printf("|---|---|---|---|---|---|\n");
  for (const auto& f : all)
    std::printf("| %s | %.1f MiB | %.1f MiB | %.2f:1 | %.0f / %.0f | %.0f / %.0f |\n", f.name.c_str(),
                double(f.data) / 1048576, double(f.compressed) / 1048576, double(f.data) / double(f.compressed),
                f.convert_mbs[0].wall, f.convert_mbs[0].cpu, f.convert_mbs[1].wall, f.convert_mbs[1].cpu);
  std::printf("\nRandom 4 KiB physical reads per second (wall clock / per CPU-second of the reading thread):\n\n");
  std::printf("| image | raw mmap | lz4 warm | warm slowdown (cpu) | lz4 cold |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& f : all)
    std::printf("| %s | %.0f / %.0f | %.0f / %.0f | %.2fx | %.0f / %.0f |\n", f.name.c_str(), f.raw_random.wall,
                f.raw_random.cpu, f.warm_random.wall, f.warm_random.cpu, f.raw_random.cpu / f.warm_random.cpu,
                f.cold_random.wall, f.cold_random.cpu);
  std::printf("\nSequential reads, GB/s of decompressed data (wall clock / per CPU-second):\n\n");
  std::printf("| image | memscope read() | lz4 -d same file | memscope vs lz4 -d (cpu) | lz4 -d of lz4 -1 file |\n");
  std::printf("|---|---|---|---|---|\n");
  for (const auto& f : all)
    std::printf("| %s | %.2f / %.2f | %.2f / %.2f | %.0f%% | %.2f / %.2f |\n", f.name.c_str(), f.seq_gbs.wall,
                f.seq_gbs.cpu, f.lz4d_gbs.wall, f.lz4d_gbs.cpu,
                f.lz4d_gbs.cpu > 0 ? 100 * f.seq_gbs.cpu / f.lz4d_gbs.cpu : 0, f.lz4d_plain_gbs.wall,
                f.lz4d_plain_gbs.cpu);
}

}  // namespace

int main(int argc, char** argv) {
  std::string fixture, workdir = fs::temp_directory_path() / "memscope-bench-lz4";
  uint64_t synthetic_gib = 0;
  size_t reads = 200000;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string arg = argv[i];
    if (arg == "--fixture") fixture = argv[i + 1];
    else if (arg == "--synthetic-gib") synthetic_gib = std::strtoull(argv[i + 1], nullptr, 10);
    else if (arg == "--workdir") workdir = argv[i + 1];
    else if (arg == "--reads") reads = std::strtoull(argv[i + 1], nullptr, 10);
  }
  if (fixture.empty() && synthetic_gib == 0) {
    std::fprintf(stderr, "usage: bench_lz4 [--fixture IMAGE] [--synthetic-gib N] [--workdir DIR] [--reads N]\n");
    return 2;
  }
  try {
    fs::create_directories(workdir);
    std::vector<Figures> all;
    if (!fixture.empty()) {
      auto source = open_image(fixture);
      // The comparison needs a raw file of the same bytes.
      std::string raw = fixture;
      if (source->format() != "raw") {
        raw = workdir + "/fixture.raw";
        write_raw_image(*source, collect_ranges(*source), raw);
      }
      all.push_back(measure(fs::path(fixture).filename().string(), *source, raw, workdir, reads));
    }
    if (synthetic_gib) {
      SyntheticImage synthetic(synthetic_gib << 30);
      std::string raw = workdir + "/synthetic.raw";
      auto t = Clock::now();
      write_raw_image(synthetic, collect_ranges(synthetic), raw);
      std::fprintf(stderr, "synthetic: %llu GiB raw written in %.1f s\n", static_cast<unsigned long long>(synthetic_gib),
                   seconds_since(t));
      auto source = open_image(raw);
      all.push_back(measure("synthetic-" + std::to_string(synthetic_gib) + "GiB", *source, raw, workdir, reads));
      fs::remove(raw);
    }
    print(all);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_lz4: %s\n", e.what());
    return 1;
  }
  return 0;
}
