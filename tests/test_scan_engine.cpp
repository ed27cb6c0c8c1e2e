// The scanning engine's chunk visitor (core/scan/scan_engine.h): every
// byte visited exactly once whatever the layer, chunking or thread count,
// with the lookahead it promises; candidates in address order on the
// calling thread; holes of sparse files skipped unread and reported;
// written overlay pages scanned even inside holes; Ctrl-C (a cancel token)
// leaves a partial result marked interrupted; hostile floods capped.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <csignal>
#include <cstring>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "core/layers/format_registry.h"
#include "core/layers/overlay.h"
#include "core/layers/physical_layer.h"
#include "core/scan/physical_scanner.h"
#include "core/scan/scan_engine.h"
#include "formats/lime/lime_format.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::BufferSpace;
using memscope::test::TempFile;

namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

std::vector<uint8_t> random_bytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng() % 251 + 1);  // never zero
  return bytes;
}

// Writes `pieces` (offset -> bytes) into a file of `size` bytes whose
// other blocks are holes.
void write_sparse(const std::string& path, uint64_t size, const std::map<uint64_t, std::vector<uint8_t>>& pieces) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  REQUIRE(fd >= 0);
  for (const auto& [offset, bytes] : pieces)
    REQUIRE(::pwrite(fd, bytes.data(), bytes.size(), static_cast<off_t>(offset)) == static_cast<ssize_t>(bytes.size()));
  REQUIRE(::ftruncate(fd, static_cast<off_t>(size)) == 0);
  ::close(fd);
}

// True when the filesystem under the temporary folder reports holes.
bool holes_supported(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  off_t data = ::lseek(fd, 0, SEEK_DATA);
  off_t hole = ::lseek(fd, 0, SEEK_HOLE);
  ::close(fd);
  return data >= 0 && hole >= 0 && hole < static_cast<off_t>(64 * kMiB);
}

// What a chunk visitor saw, checked against the image's bytes.
struct Coverage {
  std::mutex mutex;
  std::map<uint64_t, uint64_t> chunks;  // address -> size
  std::set<unsigned> workers;
  std::atomic<uint64_t> bad_lookahead{0}, bad_bytes{0};
};

ChunkVisitor check_chunks(Coverage& coverage, const std::function<uint8_t(uint64_t)>& expected, size_t lookahead,
                          const std::function<uint64_t(uint64_t)>& contiguous_end) {
  return [&coverage, expected, lookahead, contiguous_end](const ScanChunk& chunk, CandidateSink&) {
    uint64_t want = std::min<uint64_t>(chunk.address + chunk.size + lookahead, contiguous_end(chunk.address));
    if (chunk.readable < chunk.size || chunk.address + chunk.readable != want) ++coverage.bad_lookahead;
    for (size_t i = 0; i < chunk.readable; i += 509)
      if (chunk.data[i] != expected(chunk.address + i)) ++coverage.bad_bytes;
    if (chunk.readable && chunk.data[chunk.readable - 1] != expected(chunk.address + chunk.readable - 1))
      ++coverage.bad_bytes;
    std::lock_guard lock(coverage.mutex);
    coverage.chunks[chunk.address] = chunk.size;
    coverage.workers.insert(chunk.worker);
  };
}

// The chunks tile exactly the given ranges (no byte twice, none missed).
bool tiles(const std::map<uint64_t, uint64_t>& chunks, std::vector<Range> ranges) {
  std::vector<Range> merged;
  for (const auto& [address, size] : chunks) {
    if (!merged.empty() && merged.back().end() == address)
      merged.back().size += size;
    else
      merged.push_back(Range{address, size});
  }
  return merged == ranges;
}

}  // namespace

TEST_CASE("chunk visitor: every byte of a raw image once with its lookahead for any chunking and thread count") {
  auto bytes = random_bytes(5 * kMiB + 12345, 1);
  TempFile file("engine-raw");
  file.write(bytes);
  auto image = open_image(file.path());
  for (size_t chunk : {size_t{4096}, size_t{300000}, size_t{4} << 20})
    for (unsigned threads : {1u, 2u, 4u})
      for (size_t lookahead : {size_t{0}, size_t{13}, size_t{10000}}) {
        Coverage coverage;
        ScanOptions options;
        options.chunk_size = chunk;
        options.threads = threads;
        options.lookahead = lookahead;
        ScanStats stats = scan_chunks(
            *image,
            check_chunks(
                coverage, [&](uint64_t a) { return bytes[a]; }, lookahead, [&](uint64_t) { return bytes.size(); }),
            {}, options);
        INFO("chunk " << chunk << " threads " << threads << " lookahead " << lookahead);
        CHECK(tiles(coverage.chunks, {Range{0, bytes.size()}}));
        CHECK(coverage.bad_lookahead == 0);
        CHECK(coverage.bad_bytes == 0);
        CHECK(stats.bytes_scanned == bytes.size());
        CHECK(stats.zero_copy_chunks == stats.chunks);  // in place from the file's mapping
        CHECK(stats.bytes_skipped == 0);
        CHECK(stats.threads == threads);
        for (unsigned w : coverage.workers) CHECK(w < threads);
      }
}

TEST_CASE("chunk visitor: candidates reach the calling thread in address order and can stop the scan") {
  auto bytes = random_bytes(8 * kMiB, 2);
  TempFile file("engine-order");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 256 << 10;
  options.threads = 3;
  const auto caller = std::this_thread::get_id();
  std::vector<ScanCandidate> seen;
  bool on_caller = true;
  ScanStats stats = scan_chunks(
      *image,
      [](const ScanChunk& chunk, CandidateSink& out) {
        // Reported out of order on purpose: the engine sorts them.
        for (size_t at = chunk.size; at >= 4096; at -= 4096) out.add(chunk.address + at - 4096, 7, chunk.data[at - 4096]);
      },
      [&](const ScanCandidate& c) {
        on_caller = on_caller && std::this_thread::get_id() == caller;
        seen.push_back(c);
        return seen.size() < 1000;
      },
      options);
  CHECK(on_caller);
  CHECK(stats.stopped_early);
  REQUIRE(seen.size() == 1000);
  for (size_t i = 0; i < seen.size(); ++i) {
    CHECK(seen[i].address == i * 4096);
    CHECK(seen[i].tag == 7);
    CHECK(seen[i].value == bytes[i * 4096]);
  }
  CHECK(stats.bytes_scanned < bytes.size());
}

TEST_CASE("chunk visitor: a layer without a file is read on the calling thread and never joined across gaps") {
  BufferSpace space;
  auto low = random_bytes(6 * 4096, 3);
  space.put(0, low.data(), low.size());
  auto high = random_bytes(3 * 4096, 4);
  space.put(0x200000, high.data(), high.size());
  auto expected = [&](uint64_t a) -> uint8_t { return a < 0x200000 ? low[a] : high[a - 0x200000]; };
  auto contiguous_end = [&](uint64_t a) -> uint64_t { return a < 0x200000 ? low.size() : 0x200000 + high.size(); };
  Coverage coverage;
  ScanOptions options;
  options.chunk_size = 8192;
  options.lookahead = 100;
  ScanStats stats = scan_chunks(space, check_chunks(coverage, expected, 100, contiguous_end), {}, options);
  CHECK(tiles(coverage.chunks, {Range{0, low.size()}, Range{0x200000, high.size()}}));
  CHECK(coverage.bad_lookahead == 0);
  CHECK(coverage.bad_bytes == 0);
  CHECK(stats.bytes_unmapped == 0x200000 - low.size());
  CHECK(stats.parallel_read_chunks == 0);
}

TEST_CASE("chunk visitor: LiME ranges adjacent in memory but apart in the file are one stretch with a true lookahead") {
  // Two ranges, [0, 64 KiB) and [64 KiB, 128 KiB): contiguous physically,
  // separated by a header in the file.
  auto first = random_bytes(64 << 10, 5), second = random_bytes(64 << 10, 6);
  std::string image_bytes;
  for (const auto& [start, part] : {std::pair<uint64_t, const std::vector<uint8_t>*>{0, &first}, {64 << 10, &second}}) {
    lime::RangeHeader header;
    header.start = start;
    header.end_inclusive = start + part->size() - 1;
    image_bytes.append(reinterpret_cast<const char*>(&header), sizeof header);
    image_bytes.append(part->begin(), part->end());
  }
  TempFile file("engine-lime");
  file.write(image_bytes);
  auto image = open_image(file.path());
  REQUIRE(image->format() == "lime");
  auto expected = [&](uint64_t a) -> uint8_t { return a < first.size() ? first[a] : second[a - first.size()]; };
  for (size_t chunk : {size_t{4096}, size_t{40960}}) {
    Coverage coverage;
    ScanOptions options;
    options.chunk_size = chunk;
    options.lookahead = 5000;
    ScanStats stats = scan_chunks(
        *image, check_chunks(coverage, expected, 5000, [](uint64_t) { return uint64_t{128} << 10; }), {}, options);
    INFO("chunk " << chunk);
    CHECK(tiles(coverage.chunks, {Range{0, 128 << 10}}));
    CHECK(coverage.bad_lookahead == 0);
    CHECK(coverage.bad_bytes == 0);
    CHECK(stats.zero_copy_chunks > 0);
  }
}

TEST_CASE("sparse raw image: holes are skipped unread and reported - data after them is found") {
  TempFile file("engine-sparse");
  auto head = random_bytes(kMiB, 7), middle = random_bytes(kMiB, 8);
  // The middle data ends with a pattern cut by the hole that follows it:
  // its trailing NULs lie in the hole (the lookahead reads them).
  const std::string cut("CUT\0\0\0", 6);
  std::memcpy(middle.data() + middle.size() - 3, cut.data(), 3);
  write_sparse(file.path(), 256 * kMiB, {{0, head}, {100 * kMiB, middle}});
  if (!holes_supported(file.path())) {
    WARN("the temporary folder's filesystem does not report holes: skipped");
    return;
  }
  auto image = open_image(file.path());
  Coverage coverage;
  std::vector<uint64_t> hits;
  ScanStats stats = scan_physical(*image, {{"CUT"}, {cut}}, [&](const ScanHit& h) {
    hits.push_back(h.address);
    return true;
  });
  CHECK(stats.bytes_skipped >= 250 * kMiB);
  CHECK(stats.bytes_scanned + stats.bytes_skipped == 256 * kMiB);
  CHECK(stats.bytes_scanned <= 4 * kMiB);
  REQUIRE(stats.holes == 2);
  REQUIRE(stats.holes_listed.size() == 2);
  CHECK(stats.holes_listed[0].start == kMiB);
  CHECK(stats.holes_listed[0].end() == 100 * kMiB);
  CHECK(stats.holes_listed[1].start == 101 * kMiB);
  CHECK(stats.holes_listed[1].end() == 256 * kMiB);
  uint64_t at = 101 * kMiB - 3;
  CHECK(std::count(hits.begin(), hits.end(), at) == 2);  // "CUT" and "CUT\0\0\0"

  // With skipping off, the same hits, every byte read.
  ScanOptions all;
  all.skip_zero = false;
  std::vector<uint64_t> again;
  ScanStats full = scan_physical(
      *image, {{"CUT"}, {cut}},
      [&](const ScanHit& h) {
        again.push_back(h.address);
        return true;
      },
      all);
  CHECK(full.bytes_scanned == 256 * kMiB);
  CHECK(full.holes == 0);
  CHECK(again == hits);
}

TEST_CASE("sparse raw image: a pattern starting with NULs in a hole's last bytes is found (lookbehind)") {
  TempFile file("engine-lookbehind");
  auto data = random_bytes(kMiB, 9);
  std::memcpy(data.data(), "AB", 2);
  write_sparse(file.path(), 8 * kMiB, {{4 * kMiB, data}});
  if (!holes_supported(file.path())) {
    WARN("the temporary folder's filesystem does not report holes: skipped");
    return;
  }
  auto image = open_image(file.path());
  std::vector<uint64_t> hits;
  ScanStats stats = scan_physical(*image, {{std::string("\0\0AB", 4)}}, [&](const ScanHit& h) {
    hits.push_back(h.address);
    return true;
  });
  CHECK(stats.bytes_skipped > 6 * kMiB);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0] == 4 * kMiB - 2);
}

TEST_CASE("a page written in the overlay inside a hole is scanned through the overlay") {
  TempFile file("engine-overlay");
  write_sparse(file.path(), 32 * kMiB, {{0, random_bytes(4096, 10)}});
  if (!holes_supported(file.path())) {
    WARN("the temporary folder's filesystem does not report holes: skipped");
    return;
  }
  auto image = open_image(file.path());
  Overlay overlay(*image);
  const std::string planted = "PLANTED-IN-THE-OVERLAY";
  REQUIRE(overlay.write(20 * kMiB + 100, planted.data(), planted.size()).ok());
  std::vector<uint64_t> hits;
  ScanStats stats = scan_physical(overlay, {{planted}}, [&](const ScanHit& h) {
    hits.push_back(h.address);
    return true;
  });
  REQUIRE(hits.size() == 1);
  CHECK(hits[0] == 20 * kMiB + 100);
  CHECK(stats.bytes_skipped > 30 * kMiB);
  CHECK(stats.holes == 2);  // the hole is cut in two by the written page
}

TEST_CASE("a cancel token set mid-scan stops it with the partial result marked interrupted") {
  auto bytes = random_bytes(16 * kMiB, 11);
  TempFile file("engine-cancel");
  file.write(bytes);
  auto image = open_image(file.path());
  CancelToken token;
  ScanOptions options;
  options.chunk_size = 64 << 10;
  options.threads = 2;
  options.cancel = &token;
  std::atomic<int> chunks{0};
  std::vector<uint64_t> seen;
  ScanStats stats = scan_chunks(
      *image,
      [&](const ScanChunk& chunk, CandidateSink& out) {
        out.add(chunk.address);
        if (++chunks == 10) token.request();  // as the SIGINT handler does
      },
      [&](const ScanCandidate& c) {
        seen.push_back(c.address);
        return true;
      },
      options);
  CHECK(stats.interrupted);
  CHECK(stats.incomplete() == "interrupted");
  CHECK(stats.bytes_scanned < bytes.size());
  CHECK_FALSE(seen.empty());
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.front() == 0);
  // What was seen is a prefix: no chunk skipped before the stop.
  for (size_t i = 0; i < seen.size(); ++i) CHECK(seen[i] == i * (64 << 10));

  ScanOptions uncancellable;
  uncancellable.cancel = nullptr;
  ScanStats whole = scan_chunks(*image, [](const ScanChunk&, CandidateSink&) {}, {}, uncancellable);
  CHECK_FALSE(whole.interrupted);
  CHECK(whole.incomplete().empty());
}

TEST_CASE("hostile input: candidates per chunk are capped and counted - a throwing chunk visitor reaches the caller") {
  auto bytes = random_bytes(2 * kMiB, 12);
  TempFile file("engine-flood");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 256 << 10;
  options.max_hits_per_chunk = 5;
  uint64_t handed = 0;
  ScanStats stats = scan_chunks(
      *image,
      [](const ScanChunk& chunk, CandidateSink& out) {
        for (size_t at = 0; at < chunk.size; ++at) out.add(chunk.address + at);
      },
      [&](const ScanCandidate&) { return ++handed > 0; }, options);
  CHECK(handed == stats.chunks * 5);
  CHECK(stats.hits == handed);
  CHECK(stats.dropped_hits == bytes.size() - handed);

  CHECK_THROWS_AS(scan_chunks(
                      *image, [](const ScanChunk&, CandidateSink&) { throw std::runtime_error("boom"); }, {}, options),
                  std::runtime_error);
}

TEST_CASE("begin and end clip the chunks - an empty window scans nothing") {
  auto bytes = random_bytes(kMiB, 13);
  TempFile file("engine-clip");
  file.write(bytes);
  auto image = open_image(file.path());
  Coverage coverage;
  ScanOptions options;
  options.begin = 5000;
  options.end = 700000;
  options.chunk_size = 65536;
  options.lookahead = 64;
  scan_chunks(
      *image,
      check_chunks(
          coverage, [&](uint64_t a) { return bytes[a]; }, 64, [](uint64_t) { return uint64_t{700000}; }),
      {}, options);
  CHECK(tiles(coverage.chunks, {Range{5000, 700000 - 5000}}));
  CHECK(coverage.bad_lookahead == 0);
  options.begin = options.end;
  CHECK(scan_chunks(*image, [](const ScanChunk&, CandidateSink&) { throw std::runtime_error("visited"); }, {}, options).chunks == 0);
}

TEST_CASE("seekable LZ4: zero chunks skipped undecompressed - the rest read by the workers - same hits as the raw image") {
  // A BufferSpace (no file) with data in two places and zeros between: its
  // LZ4 copy has all-zero chunks, flagged in the seek table.
  BufferSpace source;
  source.map(0, 24 * kMiB);
  auto a = random_bytes(kMiB + 5000, 14), b = random_bytes(3 * kMiB, 15);
  const std::string marker = "MARKER-ACROSS-CHUNKS";
  std::memcpy(a.data() + kMiB - 7, marker.data(), marker.size());  // across an LZ4 chunk border
  std::memcpy(b.data() + 2 * kMiB - 3, marker.data(), marker.size());
  std::memcpy(b.data() + b.size() - marker.size(), marker.data(), marker.size());
  source.put(0, a.data(), a.size());
  source.put(16 * kMiB, b.data(), b.size());
  TempFile file("engine-lz4");
  Lz4WriteOptions write;
  write.chunk_size = 256 << 10;
  write_lz4_seekable(source, file.path(), write);
  auto image = open_image(file.path());
  REQUIRE(image->format() == "lz4-seekable");
  REQUIRE(image->concurrent_scan_reads());

  std::vector<uint64_t> expected = {kMiB - 7, 16 * kMiB + 2 * kMiB - 3, 16 * kMiB + b.size() - marker.size()};
  for (unsigned threads : {1u, 3u}) {
    ScanOptions options;
    options.threads = threads;
    std::vector<uint64_t> hits;
    ScanStats stats = scan_physical(*image, {{marker}}, [&](const ScanHit& h) {
      hits.push_back(h.address);
      return true;
    }, options);
    INFO("threads " << threads);
    CHECK(hits == expected);
    CHECK(stats.bytes_scanned + stats.bytes_skipped == 24 * kMiB);
    CHECK(stats.bytes_skipped >= 24 * kMiB - a.size() - b.size() - 2 * write.chunk_size);
    CHECK(stats.holes == 2);
    CHECK(stats.parallel_read_chunks == stats.chunks);
    CHECK(stats.read_faults == 0);
  }

  // Every byte the chunk visitor sees is the source's.
  Coverage coverage;
  ScanOptions options;
  options.lookahead = 70000;
  options.skip_zero = false;
  scan_chunks(*image,
              check_chunks(
                  coverage,
                  [&](uint64_t at) -> uint8_t {
                    uint8_t byte = 0;
                    source.read(at, &byte, 1);
                    return byte;
                  },
                  70000, [](uint64_t) { return 24 * kMiB; }),
              {}, options);
  CHECK(tiles(coverage.chunks, {Range{0, 24 * kMiB}}));
  CHECK(coverage.bad_lookahead == 0);
  CHECK(coverage.bad_bytes == 0);
}

TEST_CASE("seekable LZ4: a corrupt chunk is reported as a read fault and the rest is still scanned") {
  BufferSpace source;
  auto bytes = random_bytes(4 * kMiB, 16);
  const std::string marker = "FIND-ME-AFTER-THE-DAMAGE";
  std::memcpy(bytes.data() + 3 * kMiB + 10, marker.data(), marker.size());
  source.put(0, bytes.data(), bytes.size());
  TempFile file("engine-lz4-corrupt");
  Lz4WriteOptions write;
  write.chunk_size = 256 << 10;
  write_lz4_seekable(source, file.path(), write);
  // Flip a byte inside chunk 1's frame.
  uint64_t frame_offset = 0;
  {
    auto image = open_image(file.path());
    frame_offset = dynamic_cast<Lz4SeekableLayer&>(*image).frame_offset(1);
  }
  auto content = file.read();
  content[frame_offset + 100] ^= 0xff;
  file.write(content);
  auto image = open_image(file.path());
  std::vector<uint64_t> hits;
  ScanStats stats = scan_physical(*image, {{marker}}, [&](const ScanHit& h) {
    hits.push_back(h.address);
    return true;
  });
  CHECK(stats.read_faults == 1);
  REQUIRE(stats.fault_messages.size() == 1);
  CHECK(stats.fault_messages[0].find("chunk 1") != std::string::npos);
  CHECK(hits == std::vector<uint64_t>{3 * kMiB + 10});
  CHECK(stats.bytes_scanned == 4 * kMiB);
}

TEST_CASE("Ctrl-C: the interrupt handler sets the process's token - scans stop on it by default") {
  install_interrupt_handler();
  interrupt_token().reset();
  REQUIRE(std::raise(SIGINT) == 0);  // the first one only sets the token
  CHECK(interrupt_token().requested());
  auto bytes = random_bytes(4 * kMiB, 17);
  TempFile file("engine-sigint");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 256 << 10;
  ScanStats stats = scan_physical(*image, {{"x"}}, [](const ScanHit&) { return true; }, options);
  CHECK(stats.interrupted);
  CHECK(stats.bytes_scanned < bytes.size());
  interrupt_token().reset();
  std::signal(SIGINT, SIG_DFL);
  stats = scan_physical(*image, {{"x"}}, [](const ScanHit&) { return true; }, options);
  CHECK_FALSE(stats.interrupted);
  CHECK(stats.bytes_scanned == bytes.size());
}
