#include <catch2/catch.hpp>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "core/layers/chunk_cache.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/sha256.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// A sparse image with holes, ranges not aligned to chunks, compressible and
// incompressible pages, and all-zero stretches longer than a chunk.
void fill_synthetic(test::BufferSpace& space, uint32_t seed = 7) {
  std::mt19937_64 rng(seed);
  auto fill = [&](uint64_t start, uint64_t size, int kind) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i) {
      if (kind == 0) bytes[i] = 0;
      else if (kind == 1) bytes[i] = static_cast<uint8_t>(i / 64);          // compressible
      else bytes[i] = static_cast<uint8_t>(rng());                          // random
    }
    space.put(start, bytes.data(), bytes.size());
  };
  fill(0x0, 0x9000, 1);
  fill(0x9000, 0x3000, 2);
  space.map(0xc000, 0x24000);               // zeros: crosses several 16 KiB chunks
  fill(0x100000, 0x5000, 2);                // after a hole
  fill(0x105000, 0x7000, 1);
  fill(0x1'0000'0000, 0x3000, 2);           // above 4 GiB
  space.mutable_notes().set_vmcoreinfo("OSRELEASE=6.1.0-test\nPAGESIZE=4096\n");
  CpuState cpu;
  cpu.index = 0;
  cpu.cr3 = 0x1234000;
  cpu.cr4 = 0x3606f0;
  space.mutable_notes().cpus.push_back(cpu);
}

std::vector<Range> ranges_of(const AddressSpace& space) {
  std::vector<Range> out;
  space.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

std::vector<uint8_t> data_stream(AddressSpace& space) {
  std::vector<uint8_t> out;
  for (const Range& r : ranges_of(space)) {
    size_t at = out.size();
    out.resize(at + r.size);
    space.read_exact(r.start, out.data() + at, r.size);
  }
  return out;
}

constexpr uint64_t kSmallChunk = 16 << 10;

std::string write_synthetic(const test::TempFile& file, test::BufferSpace& space, unsigned threads = 2) {
  Lz4WriteOptions options;
  options.chunk_size = kSmallChunk;
  options.threads = threads;
  write_lz4_seekable(space, file.path(), options);
  return file.path();
}

void patch(const std::string& path, uint64_t offset, const std::vector<uint8_t>& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

std::unique_ptr<Lz4SeekableLayer> open_lz4(const std::string& path, ChunkCache& cache = ChunkCache::shared()) {
  return Lz4SeekableLayer::open(std::make_shared<const MappedFile>(path), cache);
}

// Rewrites the seek table's CRC after a test changed an entry, so that the
// layer gets past the table check to the check under test.
void refresh_table_crc(const std::string& path) {
  auto file = std::make_shared<const MappedFile>(path);
  const uint8_t* end = file->data() + file->size();
  uint64_t count = lz4s::load_u64(end - lz4s::kFooterSize);
  const uint8_t* entries = end - lz4s::kFooterSize - count * lz4s::kSeekEntrySize;
  uint32_t crc = lz4s::crc32(entries, count * lz4s::kSeekEntrySize);
  std::vector<uint8_t> bytes(4);
  lz4s::store_u32(bytes.data(), crc);
  uint64_t at = file->size() - lz4s::kFooterSize + 12;
  patch(path, at, bytes);
}

uint64_t entry_offset(const std::string& path, uint64_t index) {
  MappedFile file(path);
  uint64_t count = lz4s::load_u64(file.data() + file.size() - lz4s::kFooterSize);
  return file.size() - lz4s::kFooterSize - (count - index) * lz4s::kSeekEntrySize;
}

}  // namespace

TEST_CASE("seekable lz4 round trip keeps ranges / holes / bytes and notes") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-roundtrip");
  Lz4WriteOptions options;
  options.chunk_size = kSmallChunk;
  options.threads = 3;
  Lz4WriteResult written = write_lz4_seekable(source, out.path(), options);
  std::vector<uint8_t> expected = data_stream(source);
  CHECK(written.data_bytes == expected.size());
  CHECK(written.chunks == (expected.size() + kSmallChunk - 1) / kSmallChunk);
  CHECK(written.zero_chunks >= 1);
  CHECK(written.data_sha256 == Sha256::of(expected.data(), expected.size()));

  auto image = open_image(out.path());
  REQUIRE(image->format() == "lz4-seekable");
  CHECK(ranges_of(*image) == ranges_of(source));
  CHECK(image->limit() == source.limit());
  CHECK(data_stream(*image) == expected);

  // Notes survive.
  CHECK(image->notes().vmcoreinfo == source.notes().vmcoreinfo);
  CHECK(image->notes().vmcoreinfo_keys.at("OSRELEASE") == "6.1.0-test");
  REQUIRE(image->notes().cpus.size() == 1);
  CHECK(image->notes().first_cr3() == 0x1234000);
  CHECK(image->notes().cpus[0].cr4 == 0x3606f0);
  CHECK_FALSE(image->notes().cpus[0].cr0);

  // Reads across a hole: strict stops at the hole, pad fills zeros.
  std::vector<uint8_t> buf(0x2000, 0xAA);
  IoResult r = image->read(0x30000 - 0x1000, buf.data(), buf.size());
  CHECK_FALSE(r.ok());
  CHECK(r.done == 0x1000);
  CHECK(r.fault->address == 0x30000);
  r = image->read(0xfff00, buf.data(), 0x200, kReadPad);
  CHECK(r.ok());
  CHECK(std::all_of(buf.begin(), buf.begin() + 0x100, [](uint8_t b) { return b == 0; }));
  std::vector<uint8_t> want(0x100);
  source.read_exact(0x100000, want.data(), want.size());
  CHECK(std::equal(want.begin(), want.end(), buf.begin() + 0x100));

  // A read spanning two ranges and a chunk boundary.
  std::vector<uint8_t> a(0x9000), b(0x9000);
  source.read_exact(0x5000, a.data(), a.size());
  image->read_exact(0x5000, b.data(), b.size());
  CHECK(a == b);

  // Metadata.
  auto* layer = dynamic_cast<Lz4SeekableLayer*>(image.get());
  REQUIRE(layer);
  CHECK(layer->metadata().source_format == "buffer");
  CHECK(layer->metadata().chunk_size == kSmallChunk);
  CHECK(layer->metadata().data_sha256 == written.data_sha256);
  CHECK_FALSE(layer->metadata().source_sha256);  // an in-memory source has no file
  CHECK(layer->metadata().tool.rfind("memscope ", 0) == 0);
  CHECK(layer->metadata().created.size() == 20);
  bool described = false;
  for (const auto& [key, value] : layer->describe())
    if (key == "chunks") described = value.find("all-zero") != std::string::npos;
  CHECK(described);

  CHECK_NOTHROW(verify_lz4_seekable(out.path(), 2));
}

TEST_CASE("seekable lz4 output is plain LZ4 frames: lz4 -d prints the concatenated ranges") {
  if (std::system("command -v lz4 >/dev/null 2>&1") != 0) test::skip_unless_ci("the lz4 command is not installed");
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-cli"), plain("lz4s-cli-out");
  write_synthetic(out, source);
  std::string command = "lz4 -dqf '" + out.path() + "' '" + plain.path() + "'";
  REQUIRE(std::system(command.c_str()) == 0);
  CHECK(plain.read() == data_stream(source));
}

TEST_CASE("all-zero chunks cost almost nothing") {
  test::BufferSpace source;
  source.map(0, 64ull << 20);  // 64 MiB of zeros
  test::TempFile out("lz4s-zero");
  Lz4WriteOptions options;  // default 1 MiB chunks
  Lz4WriteResult written = write_lz4_seekable(source, out.path(), options);
  CHECK(written.zero_chunks == 64);
  // LZ4 cannot encode a run at better than ~255:1; the file stays under 0.5%.
  CHECK(written.output_bytes < (64ull << 20) / 200);
  auto image = open_lz4(out.path());
  std::vector<uint8_t> buf(4096, 1);
  image->read_exact((64ull << 20) - 4096, buf.data(), buf.size());
  CHECK(std::all_of(buf.begin(), buf.end(), [](uint8_t b) { return b == 0; }));
  const uint8_t* peeked = image->peek(12345, 100);
  REQUIRE(peeked);
  CHECK(peeked[0] == 0);
  CHECK(peeked[99] == 0);
}

TEST_CASE("a corrupted chunk is reported with its index and file offset / others still read") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-corrupt");
  write_synthetic(out, source);
  ChunkCache cache(1 << 20);
  uint64_t frame_offset, chunk_count;
  {
    auto layer = open_lz4(out.path(), cache);
    chunk_count = layer->chunk_count();
    frame_offset = layer->frame_offset(1);
    REQUIRE_FALSE(layer->entry(1).flags & lz4s::kChunkAllZero);
    // Flip a byte in the middle of chunk 1's compressed data.
    uint64_t middle = frame_offset + layer->entry(1).compressed_size / 2;
    MappedFile file(out.path());
    patch(out.path(), middle, {static_cast<uint8_t>(file.data()[middle] ^ 0x5a)});
  }
  auto layer = open_lz4(out.path(), cache);  // the seek table is intact: open succeeds
  REQUIRE(layer->chunk_count() == chunk_count);
  std::vector<uint8_t> buf(kSmallChunk);
  IoResult r = layer->read(kSmallChunk, buf.data(), 16);  // chunk 1 = data offset 16 KiB = physical 0x4000
  REQUIRE_FALSE(r.ok());
  CHECK(r.fault->reason.find("chunk 1 at file offset " + hex(frame_offset)) != std::string::npos);
  CHECK_THROWS_AS(layer->chunk(1), FormatError);
  CHECK_THROWS_WITH(layer->read_exact(kSmallChunk, buf.data(), 16), Catch::Contains("chunk 1"));
  // Chunk 0 and chunk 2 are fine.
  std::vector<uint8_t> want(16);
  source.read_exact(0, want.data(), 16);
  layer->read_exact(0, buf.data(), 16);
  CHECK(std::equal(want.begin(), want.end(), buf.begin()));
  CHECK(layer->read(2 * kSmallChunk, buf.data(), 16).ok());
  CHECK_THROWS_AS(verify_lz4_seekable(out.path(), 1), FormatError);
}

TEST_CASE("a seek-table checksum that does not match the data is a clear error") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-badsum");
  write_synthetic(out, source);
  uint64_t at = entry_offset(out.path(), 0) + 4;
  patch(out.path(), at, {0x01, 0x02, 0x03, 0x04});
  refresh_table_crc(out.path());
  ChunkCache cache(1 << 20);
  auto layer = open_lz4(out.path(), cache);
  uint8_t byte;
  IoResult r = layer->read(0, &byte, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.fault->reason.find("chunk 0") != std::string::npos);
  CHECK(r.fault->reason.find("checksum mismatch") != std::string::npos);
}

TEST_CASE("a chunk flagged all-zero that holds data is caught") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-fakezero");
  write_synthetic(out, source);
  uint64_t at = entry_offset(out.path(), 0) + 8;
  patch(out.path(), at, {1, 0, 0, 0});
  refresh_table_crc(out.path());
  ChunkCache cache(1 << 20);
  auto layer = open_lz4(out.path(), cache);
  uint8_t byte;
  IoResult r = layer->read(0x100, &byte, 1);
  REQUIRE_FALSE(r.ok());
  CHECK(r.fault->reason.find("flagged all-zero") != std::string::npos);
  CHECK(layer->peek(0x100, 1) == nullptr);
}

TEST_CASE("truncated file / bad footer / damaged seek table: chunks found by their frames / wrong magic and metadata refused") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile good("lz4s-good");
  write_synthetic(good, source);
  const std::vector<uint8_t> bytes = good.read();
  test::TempFile bad("lz4s-bad");
  auto complete = open_lz4(good.path());
  REQUIRE(complete->warnings().empty());
  // Every readable byte of `layer` is the source's; returns how many read.
  auto check_bytes = [&](Lz4SeekableLayer& layer) {
    uint64_t read = 0;
    layer.ranges([&](const Range& r) {
      std::vector<uint8_t> got(r.size), want(r.size);
      REQUIRE(layer.read(r.start, got.data(), got.size()).ok());
      REQUIRE(complete->read(r.start, want.data(), want.size()).ok());
      CHECK(got == want);
      read += r.size;
      return true;
    });
    return read;
  };
  auto all_bytes = [&]() {
    uint64_t total = 0;
    complete->ranges([&](const Range& r) {
      total += r.size;
      return true;
    });
    return total;
  };

  SECTION("truncated: the chunks before the cut read / a warning names what is missing") {
    for (size_t cut : {bytes.size() - 1, bytes.size() - 40, bytes.size() / 2}) {
      bad.write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
      auto layer = open_lz4(bad.path());
      REQUIRE(layer->warnings().size() == 1);
      CHECK_THAT(layer->warnings()[0], Catch::Contains(bad.path()) && Catch::Contains("seek table"));
      CHECK(check_bytes(*layer) > 0);
    }
    bad.write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(bytes.size() / 2)));
    auto half = open_lz4(bad.path());
    CHECK_THAT(half->warnings()[0], Catch::Contains("truncated") && Catch::Contains("not in the file"));
    CHECK(half->chunk_count() < half->metadata().chunk_count);
    CHECK(check_bytes(*half) < all_bytes());
    // A read of a chunk the file lost fails naming its address.
    uint64_t lost = 0;
    complete->ranges([&](const Range& r) {
      uint8_t byte = 0;
      for (uint64_t at = r.start; at < r.end(); at += 4096)
        if (!half->read(at, &byte, 1).ok()) {
          lost = at;
          return false;
        }
      return true;
    });
    REQUIRE(lost != 0);
    uint8_t byte = 0;
    IoResult r = half->read(lost, &byte, 1);
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.fault->message(), Catch::Contains(hex(lost)) && Catch::Contains("not in the file"));
    for (size_t cut : {size_t(200), size_t(10)}) {
      bad.write(std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(cut)));
      CHECK_THROWS_WITH(open_lz4(bad.path()), Catch::Contains(bad.path()));
    }
  }
  SECTION("bad footer magic: every chunk found by walking the frames") {
    auto copy = bytes;
    copy[copy.size() - 1] ^= 0xff;
    bad.write(copy);
    auto layer = open_lz4(bad.path());
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains("footer magic") && Catch::Contains("all of them present"));
    CHECK(check_bytes(*layer) == all_bytes());
  }
  SECTION("footer lies about the chunk count") {
    auto copy = bytes;
    copy[copy.size() - lz4s::kFooterSize] += 1;
    bad.write(copy);
    CHECK(check_bytes(*open_lz4(bad.path())) == all_bytes());
    copy = bytes;
    lz4s::store_u64(copy.data() + copy.size() - lz4s::kFooterSize, UINT64_MAX / 2);
    bad.write(copy);
    auto layer = open_lz4(bad.path());
    CHECK_THAT(layer->warnings()[0], Catch::Contains("seek table cannot be used"));
    CHECK(check_bytes(*layer) == all_bytes());
  }
  SECTION("wrong magic") {
    auto copy = bytes;
    copy[9] = 'X';  // inside "MSLZ4MET"
    bad.write(copy);
    CHECK_FALSE(Lz4SeekableLayer::probe(MappedFile(bad.path())));
    CHECK_THROWS_WITH(open_lz4(bad.path()), Catch::Contains("bad magic"));
    copy = bytes;
    copy[0] = 0x50;  // another skippable frame magic
    bad.write(copy);
    CHECK_THROWS_WITH(open_lz4(bad.path()), Catch::Contains("no metadata frame"));
  }
  SECTION("corrupt metadata") {
    auto copy = bytes;
    copy[lz4s::kSkippableHeaderSize + 20] ^= 1;  // chunk size byte: caught by the CRC
    bad.write(copy);
    CHECK_THROWS_WITH(open_lz4(bad.path()), Catch::Contains("CRC-32"));
  }
  SECTION("corrupt seek table: a warning / the chunks found by their frames") {
    auto copy = bytes;
    copy[entry_offset(good.path(), 0)] ^= 1;
    bad.write(copy);
    auto layer = open_lz4(bad.path());
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains("seek table"));
    CHECK(check_bytes(*layer) == all_bytes());
    CHECK_THROWS_AS(verify_lz4_seekable(bad.path(), 1), FormatError);
  }
}

TEST_CASE("random corruption: refused naming the file or every read the source's bytes or a fault") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile good("lz4s-fuzz-src");
  write_synthetic(good, source);
  const std::vector<uint8_t> bytes = good.read();
  test::TempFile bad("lz4s-fuzz");
  std::mt19937 rng(42);
  std::vector<uint8_t> buf(0x1000), expected(0x1000);
  int opened = 0, refused = 0, faulted = 0;
  for (int round = 0; round < 150; ++round) {
    auto copy = bytes;
    int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) copy[rng() % copy.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    bad.write(copy);
    ChunkCache cache(64 << 10);
    std::unique_ptr<PhysicalLayer> layer;
    try {
      layer = open_lz4(bad.path(), cache);
    } catch (const Error& e) {
      CHECK_THAT(e.what(), Catch::Contains(bad.path()));
      ++refused;
      continue;
    }
    ++opened;
    // Every chunk is checksummed: a read gives the source's own bytes, or
    // a fault at an address inside the read, never other bytes.
    for (const Range& range : ranges_of(*layer))
      for (uint64_t at = range.start; at - range.start < range.size; at += 0x1000) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), range.end() - at));
        IoResult got = layer->read(at, buf.data(), n);
        if (got.done < n) {
          REQUIRE(got.fault);
          CHECK(got.fault->address >= at);
          CHECK(got.fault->address < at + n);
          ++faulted;
        }
        IoResult truth = source.read(at, expected.data(), got.done);
        REQUIRE(truth.done == got.done);
        CHECK(std::equal(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(got.done), expected.begin()));
      }
  }
  INFO(opened << " opened, " << refused << " refused, " << faulted << " faulted reads");
  CHECK(opened > 0);  // flips in the frames leave the file openable
  CHECK(refused > 0);
  CHECK(faulted > 0);
}

TEST_CASE("concurrent readers see the right bytes") {
  test::BufferSpace source;
  fill_synthetic(source);
  test::TempFile out("lz4s-threads");
  write_synthetic(out, source);
  ChunkCache cache(3 * kSmallChunk);  // smaller than the image: constant eviction
  auto layer = open_lz4(out.path(), cache);
  std::vector<Range> ranges = ranges_of(source);
  std::atomic<int> mismatches{0};
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> a(512), b(512);
      for (int i = 0; i < 2000; ++i) {
        const Range& r = ranges[rng() % ranges.size()];
        uint64_t at = r.start + rng() % (r.size - a.size() + 1);
        source.read_exact(at, a.data(), a.size());  // BufferSpace reads are const in effect
        if (!layer->read(at, b.data(), b.size()).ok() || a != b) ++mismatches;
      }
    });
  }
  for (auto& t : threads) t.join();
  CHECK(mismatches == 0);
  ChunkCache::Stats stats = cache.stats();
  CHECK(stats.bytes <= 3 * kSmallChunk);
  CHECK(stats.evictions > 0);
}

TEST_CASE("chunk cache: LRU bound / coalesced loads / errors not cached / layer drop") {
  ChunkCache cache(3 * 100);
  int loads = 0;
  auto loader = [&](uint8_t value) {
    return [&loads, value]() -> BlockRef {
      ++loads;
      auto block = std::make_shared<CachedBlock>(100);
      std::memset(block->data(), value, 100);
      return block;
    };
  };
  for (uint8_t i = 0; i < 3; ++i) cache.get({1, i}, loader(i));
  CHECK(loads == 3);
  CHECK(cache.get({1, 0}, loader(0))->data()[0] == 0);  // hit, and now most recent
  CHECK(loads == 3);
  cache.get({1, 3}, loader(3));  // evicts block 1, the least recently used
  CHECK(cache.find({1, 1}) == nullptr);
  CHECK(cache.find({1, 0}) != nullptr);
  CHECK(cache.stats().bytes == 300);
  CHECK(cache.stats().evictions == 1);

  // A failing load reaches the caller and is not cached.
  CHECK_THROWS_AS(cache.get({2, 0}, []() -> BlockRef { throw FormatError("bad block"); }), FormatError);
  CHECK(cache.find({2, 0}) == nullptr);

  // Concurrent loads of one key run once.
  std::atomic<int> slow_loads{0};
  std::vector<std::thread> threads;
  std::vector<BlockRef> got(4);
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      got[t] = cache.get({3, 7}, [&]() -> BlockRef {
        ++slow_loads;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        return std::make_shared<CachedBlock>(10);
      });
    });
  for (auto& t : threads) t.join();
  CHECK(slow_loads == 1);
  CHECK(got[0] == got[3]);

  cache.drop_layer(1);
  CHECK(cache.find({1, 0}) == nullptr);
  CHECK(cache.find({3, 7}) != nullptr);
  cache.set_capacity(0);
  CHECK(cache.stats().bytes == 0);
  CHECK(ChunkCache::new_layer_id() != ChunkCache::new_layer_id());
}

TEST_CASE("writer rejects bad options") {
  test::BufferSpace source;
  source.map(0, 0x1000);
  test::TempFile out("lz4s-opts");
  Lz4WriteOptions options;
  options.chunk_size = 3000;
  CHECK_THROWS_AS(write_lz4_seekable(source, out.path(), options), Error);
  options.chunk_size = 1 << 20;
  options.level = 99;
  CHECK_THROWS_AS(write_lz4_seekable(source, out.path(), options), Error);
}

TEST_CASE("an empty image converts and reads as empty") {
  test::BufferSpace source;
  test::TempFile out("lz4s-empty");
  Lz4WriteResult written = write_lz4_seekable(source, out.path());
  CHECK(written.chunks == 0);
  auto layer = open_lz4(out.path());
  CHECK(layer->chunk_count() == 0);
  CHECK(ranges_of(*layer).empty());
  uint8_t byte;
  CHECK_FALSE(layer->read(0, &byte, 1).ok());
}

TEST_CASE("seekable lz4 metadata: the source's warnings round trip / a malformed list is refused naming it") {
  lz4s::Metadata m;
  m.data_size = 4096;
  m.chunk_count = 1;
  m.ranges.push_back(Range{0, 4096});
  m.source_format = "lime";
  m.source_name = "cut.lime";
  m.source_warnings = {"cut.lime: truncated: physical 0x1000-0x1fff is not in the file", "second"};
  std::vector<uint8_t> frame = lz4s::encode_metadata_frame(m);
  const uint8_t* payload = frame.data() + lz4s::kSkippableHeaderSize;
  const uint64_t size = frame.size() - lz4s::kSkippableHeaderSize;
  lz4s::Metadata back = lz4s::decode_metadata_payload(payload, size, "x.lz4");
  CHECK(back.source_warnings == m.source_warnings);
  // None: no member written, none read.
  m.source_warnings.clear();
  std::vector<uint8_t> plain = lz4s::encode_metadata_frame(m);
  std::string text(plain.begin(), plain.end());
  CHECK(text.find("source_warnings") == std::string::npos);
  // A list of something else than text.
  std::string bad(frame.begin(), frame.end());
  const size_t at = bad.find("\"second\"");
  REQUIRE(at != std::string::npos);
  bad.replace(at, 8, "12345678");
  std::vector<uint8_t> forged(bad.begin(), bad.end());
  uint8_t* forged_payload = forged.data() + lz4s::kSkippableHeaderSize;
  lz4s::store_u32(forged_payload + size - 4, lz4s::crc32(forged_payload, size - 4));  // the CRC made to match
  CHECK_THROWS_WITH(lz4s::decode_metadata_payload(forged.data() + lz4s::kSkippableHeaderSize, size, "x.lz4"),
                    Catch::Contains("x.lz4") && Catch::Contains("source_warnings"));
}
