// The multi-threaded pattern scanner: same hits as a naive search, whatever
// the chunking, thread count or layer (zero-copy or copied), in address
// order; early stop; bounded hits; hostile visitors.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cstring>
#include <memory>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/scan/physical_scanner.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;
using memscope::test::BufferSpace;
using memscope::test::TempFile;

namespace {

std::vector<ScanHit> naive(const std::vector<uint8_t>& bytes, uint64_t base, const std::vector<ScanPattern>& patterns) {
  std::vector<ScanHit> hits;
  for (size_t i = 0; i < bytes.size(); ++i)
    for (size_t p = 0; p < patterns.size(); ++p) {
      const std::string& s = patterns[p].bytes;
      if (i + s.size() <= bytes.size() && std::memcmp(bytes.data() + i, s.data(), s.size()) == 0) {
        uint64_t m = patterns[p].modulus;
        if (m <= 1 || (base + i) % m == patterns[p].remainder) hits.push_back(ScanHit{base + i, p});
      }
    }
  return hits;
}

bool same(const std::vector<ScanHit>& a, const std::vector<ScanHit>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (a[i].address != b[i].address || a[i].pattern != b[i].pattern) return false;
  return true;
}

// Random bytes over a small alphabet (so partial matches abound), with the
// patterns planted at the given offsets.
std::vector<uint8_t> noisy_bytes(size_t size, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<uint8_t> bytes(size);
  for (auto& b : bytes) b = static_cast<uint8_t>("Linux vesron\0/0"[rng() % 15]);
  return bytes;
}

void plant(std::vector<uint8_t>& bytes, size_t at, const std::string& s) {
  std::memcpy(bytes.data() + at, s.data(), s.size());
}

std::vector<ScanHit> collect(AddressSpace& space, const std::vector<ScanPattern>& patterns, ScanOptions options,
                             ScanStats* stats_out = nullptr) {
  std::vector<ScanHit> hits;
  ScanStats stats = scan_physical(
      space, patterns,
      [&](const ScanHit& h) {
        hits.push_back(h);
        return true;
      },
      options);
  if (stats_out) *stats_out = stats;
  return hits;
}

}  // namespace

TEST_CASE("search_block finds what a naive search finds / including overlapping and border hits") {
  std::vector<ScanPattern> patterns{{"Linux version "}, {"on "}, {"/"}, {std::string("n\0", 2)}, {"ss"}};
  for (unsigned seed = 1; seed <= 5; ++seed) {
    auto bytes = noisy_bytes(300000, seed);
    plant(bytes, 0, "Linux version ");
    plant(bytes, 65536 - 5, "Linux version ");          // across a sub-block border
    plant(bytes, bytes.size() - 14, "Linux version ");  // ends at the last byte
    plant(bytes, 1000, "ssss");                         // overlapping occurrences
    std::vector<ScanHit> hits;
    uint64_t found = search_block(bytes.data(), bytes.size(), bytes.size(), 0x1000, patterns, SIZE_MAX, hits);
    auto expected = naive(bytes, 0x1000, patterns);
    CHECK(found == expected.size());
    CHECK(same(hits, expected));
  }
}

TEST_CASE("search_block is exact at every buffer size and report end (vector and scalar tails)") {
  std::vector<ScanPattern> patterns{{"Linux version "}, {"on"}, {std::string("n\0", 2)}};
  std::mt19937 rng(99);
  for (size_t size = 0; size < 120; ++size) {
    auto bytes = noisy_bytes(size, static_cast<unsigned>(size));
    if (size >= 14) plant(bytes, size - 14, "Linux version ");
    for (size_t report_end : {size, size / 2, size ? size - 1 : 0, static_cast<size_t>(rng() % (size + 1))}) {
      std::vector<ScanHit> hits;
      uint64_t found = search_block(bytes.data(), size, report_end, 7, patterns, SIZE_MAX, hits);
      std::vector<ScanHit> expected;
      for (const ScanHit& h : naive(bytes, 7, patterns))
        if (h.address - 7 < report_end) expected.push_back(h);
      INFO("size " << size << " report_end " << report_end);
      CHECK(found == expected.size());
      CHECK(same(hits, expected));
    }
  }
}

TEST_CASE("search_block handles more patterns than the vector kernel holds") {
  std::vector<ScanPattern> patterns;
  for (const char* p : {"Li", "nu", "x ", "ve", "rs", "io", "n ", "/0", "on", "Linux"}) patterns.push_back({p});
  auto bytes = noisy_bytes(100000, 5);
  std::vector<ScanHit> hits;
  search_block(bytes.data(), bytes.size(), bytes.size(), 0, patterns, SIZE_MAX, hits);
  CHECK(same(hits, naive(bytes, 0, patterns)));
}

TEST_CASE("search_block reports only hits starting before report_end / but reads past it") {
  std::string text = "xxLinux version 6";
  std::vector<uint8_t> bytes(text.begin(), text.end());
  std::vector<ScanPattern> patterns{{"Linux version "}};
  std::vector<ScanHit> hits;
  search_block(bytes.data(), bytes.size(), 3, 0, patterns, SIZE_MAX, hits);
  REQUIRE(hits.size() == 1);
  CHECK(hits[0].address == 2);
  hits.clear();
  search_block(bytes.data(), bytes.size(), 2, 0, patterns, SIZE_MAX, hits);
  CHECK(hits.empty());
}

TEST_CASE("search_block keeps the lowest max_hits hits and counts the rest") {
  std::vector<uint8_t> bytes(200000, 'a');
  std::vector<ScanPattern> patterns{{"aa"}};
  std::vector<ScanHit> hits;
  uint64_t found = search_block(bytes.data(), bytes.size(), bytes.size(), 0, patterns, 10, hits);
  CHECK(found == bytes.size() - 1);
  REQUIRE(hits.size() == 10);
  for (size_t i = 0; i < hits.size(); ++i) CHECK(hits[i].address == i);
}

TEST_CASE("scan over a mmap'd raw image is zero-copy and matches a naive search for any chunking") {
  auto bytes = noisy_bytes(3 * 4096 * 16 + 123, 42);
  // Plant across every chunk border for the chunk sizes below.
  for (size_t border = 4096; border + 20 < bytes.size(); border += 4096) plant(bytes, border - 7, "Linux version ");
  plant(bytes, bytes.size() - 9, "swapper/0");
  TempFile file("scanner-raw");
  file.write(bytes);
  auto image = open_image(file.path());
  std::vector<ScanPattern> patterns{{"Linux version "}, {"swapper/0"}, {"on"}};
  auto expected = naive(bytes, 0, patterns);
  REQUIRE(expected.size() > 48);
  for (size_t chunk : {size_t{4096}, size_t{8192}, size_t{1} << 20})
    for (unsigned threads : {1u, 2u, 5u}) {
      ScanOptions options;
      options.chunk_size = chunk;
      options.threads = threads;
      ScanStats stats;
      auto hits = collect(*image, patterns, options, &stats);
      INFO("chunk " << chunk << " threads " << threads);
      CHECK(same(hits, expected));
      CHECK(stats.bytes_scanned == bytes.size());
      CHECK(stats.zero_copy_chunks == stats.chunks);
      CHECK(stats.hits == expected.size());
      CHECK_FALSE(stats.stopped_early);
    }
}

TEST_CASE("scan over a layer without zero-copy reads into buffers and never matches across holes") {
  BufferSpace space;
  auto low = noisy_bytes(5 * 4096, 7);
  plant(low, 4096 * 2 - 3, "Linux version ");  // across a page (and chunk) border
  plant(low, low.size() - 4, "Linu");          // cut by the hole below...
  space.put(0, low.data(), low.size());
  std::string tail = "x version ";  // ...so this must not complete it
  space.put(0x100000, tail.data(), tail.size());
  space.put_string(0x100000 + 100, "Linux version 9");
  std::vector<ScanPattern> patterns{{"Linux version "}};
  ScanOptions options;
  options.chunk_size = 4096;
  ScanStats stats;
  auto hits = collect(space, patterns, options, &stats);
  REQUIRE(hits.size() == 2);
  CHECK(hits[0].address == 4096 * 2 - 3);
  CHECK(hits[1].address == 0x100000 + 100);
  CHECK(stats.zero_copy_chunks < stats.chunks);  // only chunks inside one page are peeked
  CHECK(stats.bytes_scanned == 6 * 4096);
}

TEST_CASE("the visitor stops the scan early and sees hits in address order") {
  auto bytes = noisy_bytes(64 * 4096, 3);
  for (size_t at = 100; at + 20 < bytes.size(); at += 3000) plant(bytes, at, "Linux version ");
  TempFile file("scanner-stop");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 4096;
  options.threads = 2;
  std::vector<uint64_t> seen;
  ScanStats stats = scan_physical(
      *image, {{"Linux version "}},
      [&](const ScanHit& h) {
        seen.push_back(h.address);
        return seen.size() < 5;
      },
      options);
  CHECK(stats.stopped_early);
  REQUIRE(seen.size() == 5);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen[0] == 100);
  CHECK(seen[4] == 100 + 4 * 3000);
  CHECK(stats.bytes_scanned < bytes.size());
}

TEST_CASE("a pattern's modulus filters hits in the workers") {
  std::vector<uint8_t> bytes(8 * 4096, 0);
  for (size_t at = 0; at + 10 < bytes.size(); at += 512) plant(bytes, at + 16, "swapper/0");
  TempFile file("scanner-modulus");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanPattern pattern{"swapper/0", 4096, 16};
  auto hits = collect(*image, {pattern}, {});
  REQUIRE(hits.size() == 8);
  for (const auto& h : hits) CHECK(h.address % 4096 == 16);
}

TEST_CASE("hostile input: hits per chunk are capped and counted") {
  std::vector<uint8_t> bytes(4 * 4096);
  for (size_t at = 0; at + 14 <= bytes.size(); at += 14) plant(bytes, at, "Linux version ");
  TempFile file("scanner-flood");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 4096;
  options.max_hits_per_chunk = 3;
  ScanStats stats;
  auto hits = collect(*image, {{"Linux version "}}, options, &stats);
  CHECK(hits.size() == 4 * 3);
  CHECK(stats.dropped_hits == bytes.size() / 14 - 12);
}

TEST_CASE("begin/end clip the scan") {
  auto bytes = noisy_bytes(16 * 4096, 11);
  TempFile file("scanner-clip");
  file.write(bytes);
  auto image = open_image(file.path());
  std::vector<ScanPattern> patterns{{"on"}};
  ScanOptions options;
  options.begin = 5000;
  options.end = 20000;
  options.chunk_size = 4096;
  auto hits = collect(*image, patterns, options);
  std::vector<uint8_t> middle(bytes.begin() + 5000, bytes.begin() + 20000);
  CHECK(same(hits, naive(middle, 5000, patterns)));
}

TEST_CASE("a throwing visitor stops the workers and its exception reaches the caller") {
  std::vector<uint8_t> bytes(32 * 4096, 'L');
  TempFile file("scanner-throw");
  file.write(bytes);
  auto image = open_image(file.path());
  ScanOptions options;
  options.chunk_size = 4096;
  CHECK_THROWS_AS(scan_physical(
                      *image, {{"LL"}}, [](const ScanHit&) -> bool { throw std::runtime_error("boom"); }, options),
                  std::runtime_error);
}

TEST_CASE("empty pattern lists and empty patterns are refused - an empty space yields nothing") {
  BufferSpace space;
  auto never = [](const ScanHit&) { return true; };
  CHECK_THROWS_AS(scan_physical(space, {}, never), Error);
  CHECK_THROWS_AS(scan_physical(space, {{""}}, never), Error);
  ScanStats stats = scan_physical(space, {{"x"}}, never);
  CHECK(stats.hits == 0);
  CHECK(stats.bytes_scanned == 0);
}
