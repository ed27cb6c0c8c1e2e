// Figures of the compressed image formats for docs/performance.md
// ("Compressed formats"): for each file, through memscope's layer,
//   - random 4 KiB physical reads, warm (a 64 MiB working set read once,
//     then timed in another order) and cold (a fresh layer, each read in a
//     MiB not touched before, so each one decompresses its chunk), next to
//     the same warm reads on the raw image's mmap;
//   - sequential reads: every mapped byte in 1 MiB reads, on a fresh layer;
//   - the codec's own decompression speed on the same data: the file's
//     compressed pages (kdump), chunks (AVML) or stream (compressed LiME)
//     handed straight to zlib, LZO, Snappy or zstd, without memscope;
// and, when built with libkdumpfile, whether it opens each kdump file and
// its speed on the same reads.
//
//   bench_formats --raw IMAGE.raw [--image FILE ...] [--workdir DIR] [--reads N]
//
// IMAGE.raw is the guest as a raw image: the comparison for random reads,
// and the source of the files no public tool here writes (a seekable zstd
// kdump, an AVML file and a compressed LiME, made in DIR with the test-side
// writers and deleted at the end). --image adds files to measure (the
// fixture's four kdump files). Files are in the page cache: "cold" is
// memscope's chunk cache, not the disk. Figures are per CPU-second of the
// measuring thread (steady on a shared machine) and wall clock.
#include <fcntl.h>
#include <lzo/lzo1x.h>
#include <snappy-c.h>
#include <unistd.h>
#include <zlib.h>
#include <zstd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "bench/support/command_line.h"
#include "bench/support/timing.h"
#include "core/layers/format_registry.h"
#include "core/layers/mapped_file.h"
#include "core/layers/physical_layer.h"
#include "formats/avml/snappy_frames.h"
#include "formats/kdump/dump_file.h"
#include "formats/kdump/kdump.h"
#include "formats/kdump/kdump_format.h"
#include "support/avml_writer.h"
#include "support/kdump_writer.h"
#include "support/lime_zlib_writer.h"

#ifdef MEMSCOPE_BENCH_LIBKDUMPFILE
#include <libkdumpfile/kdumpfile.h>
#endif

using namespace memscope;
using namespace memscope::bench;
namespace fs = std::filesystem;

namespace {

// Times `work`, which handles `units` (reads, or bytes), on the calling
// thread.
template <typename F>
Rate timed(double units, F&& work) {
  return time_once(std::forward<F>(work)).rate(units);
}

std::vector<Range> ranges_of(const PhysicalLayer& layer) {
  std::vector<Range> out;
  layer.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

bool mapped(const std::vector<Range>& ranges, uint64_t address, uint64_t n) {
  for (const Range& r : ranges)
    if (address >= r.start && address + n <= r.end()) return true;
  return false;
}

// Page addresses mapped in both layers: `count` drawn at random from
// [start, start + span) (warm), or one page in each MiB (cold).
std::vector<uint64_t> warm_addresses(const std::vector<Range>& a, const std::vector<Range>& b, uint64_t start,
                                     uint64_t span, size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out;
  for (size_t tries = 0; out.size() < count && tries < count * 64; ++tries) {
    uint64_t at = start + (rng() % (span / 4096)) * 4096;
    if (mapped(a, at, 4096) && mapped(b, at, 4096)) out.push_back(at);
  }
  return out;
}

std::vector<uint64_t> cold_addresses(const std::vector<Range>& ranges, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<uint64_t> out;
  for (const Range& r : ranges)
    for (uint64_t mib = (r.start + (1 << 20) - 1) >> 20; ((mib + 1) << 20) <= r.end(); ++mib)
      out.push_back((mib << 20) + (rng() % 256) * 4096);
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

Rate random_reads(PhysicalLayer& layer, const std::vector<uint64_t>& addresses) {
  uint8_t buf[4096];
  uint64_t sink = 0;
  size_t failed = 0;
  Rate r = timed(double(addresses.size()), [&] {
    for (uint64_t a : addresses) {
      failed += !layer.read(a, buf, sizeof buf).ok();
      sink += buf[a % 4096];
    }
  });
  if (failed) std::fprintf(stderr, "%s: %zu random reads failed\n", layer.path().c_str(), failed);
  if (sink == 42) std::fputs("", stderr);
  return r;
}

// Every mapped byte in 1 MiB reads; GB/s of data.
Rate sequential(PhysicalLayer& layer, uint64_t* bytes_out) {
  std::vector<uint8_t> buf(1 << 20);
  uint64_t bytes = 0;
  for (const Range& r : ranges_of(layer)) bytes += r.size;
  *bytes_out = bytes;
  size_t failed = 0;
  Rate rate = timed(double(bytes) / 1e9, [&] {
    layer.ranges([&](const Range& range) {
      for (uint64_t at = range.start; at < range.end(); at += buf.size())
        failed += !layer.read(at, buf.data(), std::min<uint64_t>(buf.size(), range.end() - at)).ok();
      return true;
    });
  });
  if (failed) std::fprintf(stderr, "%s: %zu sequential reads failed\n", layer.path().c_str(), failed);
  return rate;
}

// --- The codecs on the file's own compressed data ----------------------------

struct Piece {
  const uint8_t* data;
  size_t size;
  uint32_t out_size;
  uint32_t codec;  // kdump flags; for AVML/LiME unused
};

// Every dumped page of a kdump file, as its descriptor points at it (the
// shared zero page once per page that uses it, as a plain reader would).
std::vector<Piece> kdump_pages(KdumpLayer& layer, kdump::DumpFile& dump, std::vector<std::vector<uint8_t>>& copies) {
  std::vector<Piece> out;
  const uint64_t page = layer.page_size();
  layer.ranges([&](const Range& r) {
    for (uint64_t at = r.start; at < r.end(); at += page) {
      auto d = layer.descriptor(at / page);
      if (!d || d->offset == 0) continue;
      std::vector<uint8_t> scratch;
      const uint8_t* bytes = dump.bytes(d->offset, d->size, scratch);
      if (!bytes) continue;
      if (!scratch.empty()) {  // a page split between records of a flattened file
        copies.push_back(std::move(scratch));
        bytes = copies.back().data();
      }
      out.push_back({bytes, d->size, uint32_t(page), d->flags});
    }
    return true;
  });
  return out;
}

Rate kdump_codec(const std::vector<Piece>& pages, uint64_t* bytes_out) {
  std::vector<uint8_t> out(1 << 16);
  ZSTD_DCtx* zstd = ZSTD_createDCtx();
  std::vector<uint8_t> lzo_work(LZO1X_MEM_DECOMPRESS + 1);
  uint64_t bytes = 0, failed = 0;
  for (const Piece& p : pages) bytes += p.out_size;
  *bytes_out = bytes;
  Rate r = timed(double(bytes) / 1e9, [&] {
    for (const Piece& p : pages) {
      if (p.codec & kdump::kCompressedZlib) {
        uLongf n = p.out_size;
        failed += uncompress(out.data(), &n, p.data, p.size) != Z_OK;
      } else if (p.codec & kdump::kCompressedLzo) {
        lzo_uint n = p.out_size;
        failed += lzo1x_decompress_safe(p.data, p.size, out.data(), &n, lzo_work.data()) != LZO_E_OK;
      } else if (p.codec & kdump::kCompressedSnappy) {
        size_t n = p.out_size;
        failed += snappy_uncompress(reinterpret_cast<const char*>(p.data), p.size, reinterpret_cast<char*>(out.data()),
                                    &n) != SNAPPY_OK;
      } else if (p.codec & kdump::kCompressedZstd) {
        failed += ZSTD_isError(ZSTD_decompressDCtx(zstd, out.data(), p.out_size, p.data, p.size));
      } else {
        std::memcpy(out.data(), p.data, std::min<size_t>(p.size, p.out_size));
      }
    }
  });
  ZSTD_freeDCtx(zstd);
  if (failed) std::fprintf(stderr, "kdump codec: %llu pages failed\n", static_cast<unsigned long long>(failed));
  return r;
}

// AVML: every block's Snappy chunks, found by walking the file (header,
// chunks, the u64 trailer with the stream's length, next header).
std::vector<Piece> avml_chunks(const MappedFile& file) {
  std::vector<Piece> out;
  const uint8_t* base = file.data();
  const uint64_t size = file.size();
  uint64_t at = 0;
  while (at + 32 <= size) {
    const uint64_t stream = at + 32;
    uint64_t o = stream;
    for (;;) {
      uint64_t trailer = 0;
      if (o + 8 <= size) std::memcpy(&trailer, base + o, 8);
      if (o > stream && trailer == o - stream) {
        o += 8;
        break;
      }
      std::string error;
      auto h = snappy_frames::read_chunk_header(base, size, o, error);
      if (!h) return out;
      if (h->type == snappy_frames::kCompressed || h->type == snappy_frames::kUncompressed)
        out.push_back({base + o + snappy_frames::kHeaderSize + snappy_frames::kChecksumSize,
                       h->length - snappy_frames::kChecksumSize, h->data_size, h->type});
      o += snappy_frames::kHeaderSize + h->length;
    }
    at = o;
  }
  return out;
}

Rate avml_codec(const std::vector<Piece>& chunks, uint64_t* bytes_out) {
  std::vector<char> out(snappy_frames::kMaxData);
  uint64_t bytes = 0, failed = 0;
  for (const Piece& c : chunks) bytes += c.out_size;
  *bytes_out = bytes;
  Rate r = timed(double(bytes) / 1e9, [&] {
    for (const Piece& c : chunks) {
      if (c.codec == snappy_frames::kUncompressed) {
        std::memcpy(out.data(), c.data, c.size);
        continue;
      }
      size_t n = out.size();
      failed += snappy_uncompress(reinterpret_cast<const char*>(c.data), c.size, out.data(), &n) != SNAPPY_OK;
    }
  });
  if (failed) std::fprintf(stderr, "snappy: %llu chunks failed\n", static_cast<unsigned long long>(failed));
  return r;
}

// Compressed LiME: the whole zlib stream inflated in one pass.
Rate zlib_stream(const MappedFile& file, uint64_t* bytes_out) {
  std::vector<uint8_t> out(1 << 20);
  uint64_t bytes = 0;
  Rate r = timed(1.0, [&] {
    z_stream z{};
    inflateInit(&z);
    z.next_in = const_cast<Bytef*>(file.data());
    z.avail_in = uInt(file.size());
    int rc = Z_OK;
    while (rc == Z_OK) {
      z.next_out = out.data();
      z.avail_out = uInt(out.size());
      rc = inflate(&z, Z_NO_FLUSH);
      bytes += out.size() - z.avail_out;
    }
    inflateEnd(&z);
  });
  *bytes_out = bytes;
  return Rate{r.wall * double(bytes) / 1e9, r.cpu * double(bytes) / 1e9};
}

// --- libkdumpfile, for the comparison docs/formats.md makes -------------------

#ifdef MEMSCOPE_BENCH_LIBKDUMPFILE
struct Libkdumpfile {
  std::string status;  // "opens" or its error
  Rate warm, sequential;
};

Libkdumpfile libkdumpfile(const std::string& path, const std::vector<uint64_t>& warm,
                          const std::vector<Range>& ranges) {
  Libkdumpfile result;
  int fd = ::open(path.c_str(), O_RDONLY);
  kdump_ctx_t* ctx = kdump_new();
  if (kdump_open_fd(ctx, fd) != KDUMP_OK) {
    result.status = std::string("does not open: ") + kdump_get_err(ctx);
  } else {
    result.status = "opens";
    uint8_t buf[4096];
    auto read_all = [&] {
      for (uint64_t a : warm) {
        size_t n = sizeof buf;
        kdump_read(ctx, KDUMP_MACHPHYSADDR, a, buf, &n);
      }
    };
    read_all();
    result.warm = timed(double(warm.size()), read_all);
    std::vector<uint8_t> big(1 << 20);
    uint64_t bytes = 0;
    for (const Range& r : ranges) bytes += r.size;
    result.sequential = timed(double(bytes) / 1e9, [&] {
      for (const Range& r : ranges)
        for (uint64_t at = r.start; at < r.end(); at += big.size()) {
          size_t n = std::min<uint64_t>(big.size(), r.end() - at);
          kdump_read(ctx, KDUMP_MACHPHYSADDR, at, big.data(), &n);
        }
    });
  }
  kdump_free(ctx);
  ::close(fd);
  return result;
}
#endif

struct Figures {
  std::string name, format, codec;
  uint64_t file_size = 0, data = 0;
  double open_ms = 0;
  Rate raw_warm, warm, cold, seq_gbs, codec_gbs;
  uint64_t codec_bytes = 0;
  std::string codec_what;
#ifdef MEMSCOPE_BENCH_LIBKDUMPFILE
  std::optional<Libkdumpfile> kdumpfile;
#endif
};

Figures measure(const std::string& path, PhysicalLayer& raw, size_t reads) {
  Figures f;
  f.name = fs::path(path).filename().string();
  f.file_size = fs::file_size(path);
  const std::vector<Range> raw_ranges = ranges_of(raw);
  auto t = Clock::now();
  std::unique_ptr<PhysicalLayer> layer = open_image(path);
  f.open_ms = ms_since(t);
  f.format = layer->format();
  const std::vector<Range> ranges = ranges_of(*layer);

  // Warm: a 64 MiB working set (a plugin's kernel structures), as bench_lz4.
  const uint64_t limit = std::min(raw.limit(), layer->limit());
  const uint64_t span = std::min<uint64_t>(limit, 64ull << 20);
  uint64_t start = limit / 3 / 4096 * 4096;
  if (start + span > limit) start = 0;
  const std::vector<uint64_t> first = warm_addresses(raw_ranges, ranges, start, span, reads, 1);
  const std::vector<uint64_t> second = warm_addresses(raw_ranges, ranges, start, span, reads, 2);
  random_reads(raw, first);
  f.raw_warm = random_reads(raw, second);
  random_reads(*layer, first);
  f.warm = random_reads(*layer, second);

  // Cold: fresh layers (a new identity in the shared chunk cache), one read per MiB.
  Rate cold_sum;
  for (uint64_t seed : {3, 4, 5}) {
    std::unique_ptr<PhysicalLayer> fresh = open_image(path);
    Rate r = random_reads(*fresh, cold_addresses(ranges, seed));
    cold_sum.wall += r.wall / 3;
    cold_sum.cpu += r.cpu / 3;
  }
  f.cold = cold_sum;
  {
    std::unique_ptr<PhysicalLayer> fresh = open_image(path);
    f.seq_gbs = sequential(*fresh, &f.data);
  }

  auto file = std::make_shared<const MappedFile>(path);
  if (auto* kdump = dynamic_cast<KdumpLayer*>(layer.get())) {
    f.codec = kdump->codec();
    kdump::DumpFile dump(file);
    std::vector<std::vector<uint8_t>> copies;
    f.codec_gbs = kdump_codec(kdump_pages(*kdump, dump, copies), &f.codec_bytes);
    f.codec_what = f.codec + " on each dumped page";
#ifdef MEMSCOPE_BENCH_LIBKDUMPFILE
    f.kdumpfile = libkdumpfile(path, second, ranges);
#endif
  } else if (f.format == "avml") {
    f.codec = "snappy (framed)";
    f.codec_gbs = avml_codec(avml_chunks(*file), &f.codec_bytes);
    f.codec_what = "snappy on each chunk (no CRC)";
  } else if (f.format == "lime-zlib") {
    f.codec = "zlib";
    f.codec_gbs = zlib_stream(*file, &f.codec_bytes);
    f.codec_what = "inflate of the whole stream";
  }
  std::fprintf(stderr, "%s: done\n", f.name.c_str());
  return f;
}

void print(const std::vector<Figures>& all) {
  std::printf("Random 4 KiB reads per CPU-second (per wall second), warm: a 64 MiB working set already read once;\n"
              "cold: a fresh layer, one read in each MiB. Sequential: every mapped byte in 1 MiB reads, GB/s of data.\n"
              "Codec: the same compressed data handed to the codec library directly, GB/s of output.\n\n");
  std::printf("| file | format, codec | file MiB | open ms | raw warm | warm | warm cost vs raw (CPU) | cold | "
              "sequential GB/s | codec GB/s | sequential / codec (CPU) |\n");
  std::printf("|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const Figures& f : all)
    std::printf("| %s | %s, %s | %.1f | %.1f | %.0fk (%.0fk) | %.0fk (%.0fk) | %.2fx | %.0f (%.0f) | %.2f (%.2f) | "
                "%.2f (%.2f) | %.0f%% |\n",
                f.name.c_str(), f.format.c_str(), f.codec.c_str(), double(f.file_size) / 1048576.0, f.open_ms,
                f.raw_warm.cpu / 1e3, f.raw_warm.wall / 1e3, f.warm.cpu / 1e3, f.warm.wall / 1e3,
                f.raw_warm.cpu / f.warm.cpu, f.cold.cpu, f.cold.wall, f.seq_gbs.cpu, f.seq_gbs.wall, f.codec_gbs.cpu,
                f.codec_gbs.wall, 100.0 * f.seq_gbs.cpu / f.codec_gbs.cpu);
  std::printf("\nCodec figures: ");
  for (const Figures& f : all)
    std::printf("%s: %s, %.1f MiB out; ", f.name.c_str(), f.codec_what.c_str(), double(f.codec_bytes) / 1048576.0);
  std::printf("\n");
#ifdef MEMSCOPE_BENCH_LIBKDUMPFILE
  std::printf("\nlibkdumpfile %d.%d.%d on the same kdump files (warm random 4 KiB reads per CPU-second, sequential "
              "GB/s):\n\n",
              KDUMPFILE_VER_MAJOR, KDUMPFILE_VER_MINOR, KDUMPFILE_VER_MICRO);
  std::printf("| file | libkdumpfile | warm | sequential GB/s |\n|---|---|---|---|\n");
  for (const Figures& f : all) {
    if (!f.kdumpfile) continue;
    std::printf("| %s | %s | %.0fk | %.2f |\n", f.name.c_str(), f.kdumpfile->status.c_str(), f.kdumpfile->warm.cpu / 1e3,
                f.kdumpfile->sequential.cpu);
  }
#endif
}

}  // namespace

int main(int argc, char** argv) {
  std::string raw_path, workdir = fs::temp_directory_path().string();
  std::vector<std::string> images;
  size_t reads = 100000;
  for (CommandLine args(argc, argv); args.next();) {
    const std::string& arg = args.current();
    if (arg == "--raw") raw_path = args.value();
    else if (arg == "--image") images.push_back(args.value());
    else if (arg == "--workdir") workdir = args.value();
    else if (arg == "--reads") reads = std::stoul(args.value());
    else {
      std::fprintf(stderr, "usage: bench_formats --raw IMAGE.raw [--image FILE ...] [--workdir DIR] [--reads N]\n");
      return 2;
    }
  }
  if (raw_path.empty()) {
    std::fprintf(stderr, "bench_formats: give --raw IMAGE.raw\n");
    return 2;
  }
  if (lzo_init() != LZO_E_OK) return 1;
  std::unique_ptr<PhysicalLayer> raw = open_image(raw_path);
  const fs::path dir = fs::path(workdir) / ("bench-formats-" + std::to_string(::getpid()));
  fs::create_directories(dir);
  // The compressed LiME's index goes to the user cache: keep it in DIR, removed at the end.
  ::setenv("XDG_CACHE_HOME", (dir / "cache").c_str(), 1);
  {
    test::KdumpWriteOptions zstd;
    zstd.codec = kdump::kCompressedZstd;
    test::write_kdump(*raw, (dir / "image.kdump-zstd").string(), zstd);
    test::write_avml(*raw, (dir / "image.avml").string());
    test::write_lime_zlib(*raw, (dir / "image.lime-zlib").string());
  }
  for (const char* made : {"image.kdump-zstd", "image.avml", "image.lime-zlib"}) images.push_back((dir / made).string());
  std::vector<Figures> all;
  for (const std::string& image : images) all.push_back(measure(image, *raw, reads));
  print(all);
  fs::remove_all(dir);
  return 0;
}
