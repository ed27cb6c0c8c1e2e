#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/time.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/layers/chunk_cache.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/lz4/lz4_frame.h"
#include "core/layers/format_registry.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

void require_lz4_cli() {
  if (std::system("command -v lz4 >/dev/null 2>&1") != 0) test::skip_unless_ci("the lz4 command is not installed");
}

// A few MiB that look like memory: compressible runs, text, random pages
// (which lz4 stores as uncompressed blocks), zeros.
std::vector<uint8_t> synthetic_image(size_t size = 3 << 20) {
  std::vector<uint8_t> bytes(size);
  std::mt19937 rng(11);
  for (size_t page = 0; page < size / 4096; ++page) {
    uint8_t* p = bytes.data() + page * 4096;
    switch (page % 5) {
      case 0: for (size_t i = 0; i < 4096; ++i) p[i] = static_cast<uint8_t>(rng()); break;
      case 1: for (size_t i = 0; i < 4096; ++i) p[i] = static_cast<uint8_t>("memscope lz4 "[i % 13]); break;
      case 2: for (size_t i = 0; i < 4096; ++i) p[i] = static_cast<uint8_t>(page + i / 512); break;
      default: break;  // zeros
    }
  }
  // One stretch of random pages longer than a 64 KiB block: stored raw.
  for (size_t i = 0; i < (128u << 10) && size / 3 + i < size; ++i) bytes[size / 3 + i] = static_cast<uint8_t>(rng());
  return bytes;
}

void lz4_compress(const std::string& in, const std::string& out, const std::string& flags) {
  std::string command = "lz4 -q -f " + flags + " '" + in + "' '" + out + "'";
  REQUIRE(std::system(command.c_str()) == 0);
}

std::unique_ptr<Lz4FrameLayer> open_plain(const std::string& path, const std::string& index_dir,
                                          ChunkCache* cache = nullptr) {
  Lz4FrameLayer::OpenOptions options;
  options.index_dir = index_dir;
  options.cache = cache;
  return Lz4FrameLayer::open(std::make_shared<const MappedFile>(path), options);
}

void check_reads(Lz4FrameLayer& layer, const std::vector<uint8_t>& expected, unsigned seed) {
  REQUIRE(layer.limit() == expected.size());
  std::vector<uint8_t> all(expected.size());
  layer.read_exact(0, all.data(), all.size());
  CHECK(all == expected);
  // Random reads, backwards-biased, crossing block boundaries.
  std::mt19937_64 rng(seed);
  std::vector<uint8_t> buf(10000);
  int bad = 0;
  for (int i = 0; i < 300; ++i) {
    uint64_t at = rng() % (expected.size() - buf.size());
    layer.read_exact(at, buf.data(), buf.size());
    if (!std::equal(buf.begin(), buf.end(), expected.begin() + static_cast<std::ptrdiff_t>(at))) ++bad;
  }
  CHECK(bad == 0);
  uint8_t byte;
  IoResult r = layer.read(expected.size() - 1, buf.data(), 2);
  CHECK(r.done == 1);
  CHECK(r.fault->address == expected.size());
  CHECK(layer.read(expected.size() + 5, &byte, 1, kReadPad).ok());
}

}  // namespace

TEST_CASE("plain lz4 files of every flavour read back exactly") {
  require_lz4_cli();
  test::TempDir dir("lz4frame");
  std::vector<uint8_t> image = synthetic_image();
  test::TempFile raw("lz4frame-raw");
  raw.write(image);
  const std::vector<std::string> flavours = {"",        "-B4",          "-B5 -BX",       "-B6 --no-frame-crc",
                                             "-BD -B4", "-BD -B5 -BX", "--content-size -9"};
  unsigned seed = 0;
  for (const std::string& flags : flavours) {
    INFO("lz4 " << flags);
    std::string path = dir.file("image" + std::to_string(seed) + ".lz4");
    lz4_compress(raw.path(), path, flags);
    ChunkCache cache(256 << 10);  // a few blocks: random reads must re-decode
    auto layer = open_plain(path, dir.file("index"), &cache);
    CHECK(layer->format() == "lz4");
    CHECK(layer->index_origin() == "built");
    check_reads(*layer, image, ++seed);
  }
}

TEST_CASE("plain lz4: concatenated frames and skippable frames are one image") {
  require_lz4_cli();
  test::TempDir dir("lz4frame-cat");
  std::vector<uint8_t> image = synthetic_image(1 << 20);
  std::vector<uint8_t> a(image.begin(), image.begin() + 300000), b(image.begin() + 300000, image.end());
  test::TempFile ra("part-a"), rb("part-b");
  ra.write(a);
  rb.write(b);
  lz4_compress(ra.path(), dir.file("a.lz4"), "-B4");
  lz4_compress(rb.path(), dir.file("b.lz4"), "-BD");
  std::ofstream cat(dir.file("cat.lz4"), std::ios::binary);
  const unsigned char skippable[] = {0x51, 0x2a, 0x4d, 0x18, 3, 0, 0, 0, 'x', 'y', 'z'};
  cat.write(reinterpret_cast<const char*>(skippable), sizeof skippable);
  for (const char* part : {"a.lz4", "b.lz4"}) {
    std::ifstream in(dir.file(part), std::ios::binary);
    cat << in.rdbuf();
  }
  cat.close();
  {
    // Detected from content; its index goes to the (temporary) user cache.
    const char* saved = std::getenv("XDG_CACHE_HOME");
    std::string previous = saved ? saved : "";
    ::setenv("XDG_CACHE_HOME", dir.file("xdg").c_str(), 1);
    auto opened = open_image(dir.file("cat.lz4"));
    if (saved) ::setenv("XDG_CACHE_HOME", previous.c_str(), 1); else ::unsetenv("XDG_CACHE_HOME");
    REQUIRE(opened->format() == "lz4");
  }
  auto layer = open_plain(dir.file("cat.lz4"), dir.file("index"));
  check_reads(*layer, image, 99);
}

TEST_CASE("plain lz4 index is cached per user / keyed by the file / and rebuilt when stale or damaged") {
  require_lz4_cli();
  test::TempDir dir("lz4frame-index");
  std::vector<uint8_t> image = synthetic_image(1 << 20);
  test::TempFile raw("lz4frame-idx-raw");
  raw.write(image);
  std::string path = dir.file("evidence/image.lz4");
  fs::create_directories(dir.file("evidence"));
  lz4_compress(raw.path(), path, "-BD -B4");

  // Through the default location: $XDG_CACHE_HOME/memscope/lz4-index.
  std::string saved = std::getenv("XDG_CACHE_HOME") ? std::getenv("XDG_CACHE_HOME") : "";
  ::setenv("XDG_CACHE_HOME", dir.file("xdg").c_str(), 1);
  auto first = Lz4FrameLayer::open(std::make_shared<const MappedFile>(path));
  auto second = Lz4FrameLayer::open(std::make_shared<const MappedFile>(path));
  if (saved.empty()) ::unsetenv("XDG_CACHE_HOME"); else ::setenv("XDG_CACHE_HOME", saved.c_str(), 1);
  CHECK(first->index_origin() == "built");
  CHECK(second->index_origin() == "cached");
  CHECK(first->index_path().rfind(dir.file("xdg/memscope/lz4-index/"), 0) == 0);
  CHECK(fs::exists(first->index_path()));
  CHECK(second->block_count() == first->block_count());
  check_reads(*second, image, 5);
  // Nothing was written beside the evidence.
  CHECK(std::distance(fs::directory_iterator(dir.file("evidence")), fs::directory_iterator()) == 1);

  // A damaged index is rebuilt, not trusted.
  std::string index = first->index_path();
  {
    std::fstream f(index, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(60);
    f.put('\x7f');
  }
  auto third = open_plain(path, fs::path(index).parent_path().string());
  CHECK(third->index_origin() == "built");
  auto fourth = open_plain(path, fs::path(index).parent_path().string());
  CHECK(fourth->index_origin() == "cached");

  // Another mtime is another key.
  struct timeval times[2] = {{1000000000, 0}, {1000000000, 0}};
  REQUIRE(::utimes(path.c_str(), times) == 0);
  auto fifth = open_plain(path, fs::path(index).parent_path().string());
  CHECK(fifth->index_origin() == "built");
  CHECK(fifth->index_path() != index);
}

TEST_CASE("plain lz4: corruption / truncation and wrong contents cost only what they touch") {
  require_lz4_cli();
  test::TempDir dir("lz4frame-bad");
  std::vector<uint8_t> image = synthetic_image(1 << 20);
  test::TempFile raw("lz4frame-bad-raw");
  raw.write(image);
  lz4_compress(raw.path(), dir.file("good.lz4"), "-B4");
  std::ifstream in(dir.file("good.lz4"), std::ios::binary);
  const std::vector<uint8_t> good((std::istreambuf_iterator<char>(in)), {});
  test::TempFile bad("lz4frame-bad");
  const std::string index = dir.file("index");
  auto warned = [](const Lz4FrameLayer& layer, const std::string& what) {
    for (const std::string& w : layer.warnings())
      if (w.find(what) != std::string::npos) return true;
    return false;
  };

  SECTION("a flipped byte: a warning naming the file offset / the bytes that read are the source's") {
    auto copy = good;
    copy[copy.size() / 2] ^= 0x10;
    bad.write(copy);
    auto layer = open_plain(bad.path(), index);
    REQUIRE_FALSE(layer->warnings().empty());
    CHECK_THAT(layer->warnings()[0], Catch::Contains(bad.path()) && Catch::Contains("file offset 0x"));
    // Without block checksums, a block that decodes to wrong bytes is told
    // by the frame checksum only; one that does not decode costs itself.
    if (!warned(*layer, "content checksum")) {
      std::vector<uint8_t> buf(4096);
      for (uint64_t at = 0; at < layer->limit(); at += 4096) {
        IoResult got = layer->read(at, buf.data(), buf.size());
        if (got.ok()) CHECK(std::equal(buf.begin(), buf.end(), image.begin() + static_cast<std::ptrdiff_t>(at)));
      }
    }
  }
  SECTION("truncated: the blocks before the cut read / a warning says so") {
    for (size_t cut : {good.size() - 2, good.size() / 3}) {
      bad.write(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(cut)));
      auto layer = open_plain(bad.path(), index);
      CHECK(warned(*layer, "truncated"));
      REQUIRE(layer->limit() > 0);
      std::vector<uint8_t> buf(static_cast<size_t>(layer->limit()));
      REQUIRE(layer->read(0, buf.data(), buf.size()).ok());
      CHECK(std::equal(buf.begin(), buf.end(), image.begin()));
    }
    bad.write(std::vector<uint8_t>(good.begin(), good.begin() + 9));
    CHECK_THROWS_WITH(open_plain(bad.path(), index), Catch::Contains(bad.path()) && Catch::Contains("truncated"));
  }
  SECTION("trailing garbage: the image reads / a warning names it") {
    auto copy = good;
    copy.insert(copy.end(), {1, 2, 3, 4, 5, 6, 7, 8});
    bad.write(copy);
    auto layer = open_plain(bad.path(), index);
    CHECK(warned(*layer, "not an LZ4 frame"));
    CHECK(layer->limit() == image.size());
  }
  SECTION("legacy format") {
    lz4_compress(raw.path(), bad.path(), "-l");
    CHECK_THROWS_WITH(open_image(bad.path()), Catch::Contains("legacy"));
  }
  SECTION("a compressed LiME image is not taken for raw memory") {
    std::vector<uint8_t> lime(64, 0);
    const uint8_t header[] = {0x45, 0x4d, 0x69, 0x4c, 1, 0, 0, 0};
    std::copy(std::begin(header), std::end(header), lime.begin());
    test::TempFile lime_file("lz4frame-lime");
    lime_file.write(lime);
    lz4_compress(lime_file.path(), bad.path(), "");
    CHECK_THROWS_WITH(open_plain(bad.path(), index), Catch::Contains("LiME"));
  }
  SECTION("random corruption: refused naming the file, or each read right or a fault naming its address") {
    std::mt19937 rng(9);
    int refused = 0, opened = 0, faulted_reads = 0;
    for (int round = 0; round < 60; ++round) {
      auto copy = good;
      copy[rng() % copy.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
      bad.write(copy);
      std::unique_ptr<Lz4FrameLayer> layer;
      try {
        layer = open_plain(bad.path(), index);
      } catch (const FormatError& e) {
        CHECK_THAT(e.what(), Catch::Contains(bad.path()));
        ++refused;
        continue;
      }
      ++opened;
      // Bytes that decode wrong are only told by the frame's checksum.
      const bool unlocated = warned(*layer, "content checksum");
      std::vector<uint8_t> buf(16);
      for (uint64_t at = 0; at < layer->limit(); at += 4096) {
        IoResult got = layer->read(at, buf.data(), 16);
        if (got.done == 16) {
          if (!unlocated && at + 16 <= image.size())
            CHECK(std::equal(buf.begin(), buf.end(), image.begin() + static_cast<std::ptrdiff_t>(at)));
          continue;
        }
        // A corrupt block costs the reads inside it, with a fault that
        // names where.
        REQUIRE(got.fault);
        CHECK(got.fault->address >= at);
        CHECK(got.fault->address < at + 16);
        CHECK_THAT(got.fault->message(), Catch::Contains("0x"));
        ++faulted_reads;
      }
    }
    INFO(refused << " refused, " << opened << " opened, " << faulted_reads << " faulted reads");
    CHECK(refused + opened == 60);
    CHECK(opened > 0);
  }
}

TEST_CASE("fixture image compressed by the lz4 tool: linked blocks with checkpoints read like the raw image") {
  require_lz4_cli();
  std::string raw = test::fixture("image.raw");
  test::TempDir dir("lz4frame-fixture");
  lz4_compress(raw, dir.file("image.lz4"), "-BD -B4");
  ChunkCache cache(2 << 20);
  auto layer = open_plain(dir.file("image.lz4"), dir.file("index"), &cache);
  auto plain = open_image(raw);
  REQUIRE(layer->limit() == plain->limit());
  std::mt19937_64 rng(1);
  std::vector<uint8_t> a(4096), b(4096);
  int bad = 0;
  for (int i = 0; i < 200; ++i) {  // random 4 KiB reads: walk back to checkpoints or cached blocks
    uint64_t at = (rng() % (plain->limit() / 4096)) * 4096;
    plain->read_exact(at, a.data(), a.size());
    layer->read_exact(at, b.data(), b.size());
    if (a != b) ++bad;
  }
  CHECK(bad == 0);
  CHECK(layer->checkpoint_count() == (plain->limit() - 1) / (64ull << 20));  // one per 64 MiB after the first
  bool linked = false;
  for (const auto& [key, value] : layer->describe())
    if (key == "lz4 frames") linked = value.find("linked") != std::string::npos;
  CHECK(linked);
  // Reopening loads the index, dictionaries included, and reads the same.
  auto again = open_plain(dir.file("image.lz4"), dir.file("index"), &cache);
  CHECK(again->index_origin() == "cached");
  CHECK(again->checkpoint_count() == layer->checkpoint_count());
  uint64_t high = plain->limit() - 8192;
  plain->read_exact(high, a.data(), a.size());
  ChunkCache fresh(2 << 20);
  auto cold = open_plain(dir.file("image.lz4"), dir.file("index"), &fresh);
  cold->read_exact(high, b.data(), b.size());
  CHECK(a == b);
}
