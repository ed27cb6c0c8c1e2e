// LiME images written with compress=1 (one zlib stream), written by the
// test-side writer with LiME's deflate parameters.
#include <catch2/catch.hpp>

#include <zlib.h>

#include <cstring>
#include <fstream>
#include <random>

#include "core/layers/format_registry.h"
#include "core/session/session.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/lime/lime_zlib.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/lime_zlib_writer.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// 5 MiB over three ranges (several checkpoints), text, random and zeros.
void fill_machine(test::BufferSpace& space) {
  std::mt19937_64 rng(44);
  auto fill = [&](uint64_t start, uint64_t size, int kind) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
      bytes[i] = kind == 0   ? 0
                 : kind == 1 ? static_cast<uint8_t>("compressed lime "[(i + i / 4093) % 16])
                             : static_cast<uint8_t>(rng());
    space.put(start, bytes.data(), bytes.size());
  };
  fill(0x1000, 0x180000, 1);
  fill(0x181000, 0x80000, 2);
  space.map(0x201000, 0x100000);
  fill(0x1000000, 0x200000, 1);
  fill(0x1200000, 0x1000, 2);
  fill(0x8000000, 0x3000, 1);
}

std::vector<Range> ranges_of(const AddressSpace& space) {
  std::vector<Range> out;
  space.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

void require_same_bytes(AddressSpace& expected, AddressSpace& layer, const std::vector<Range>& ranges) {
  std::vector<uint8_t> a, b;
  for (const Range& r : ranges)
    for (uint64_t at = r.start; at < r.end();) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(r.end() - at, 700000));
      a.resize(n);
      b.resize(n);
      REQUIRE(expected.read(at, a.data(), n).ok());
      IoResult got = layer.read(at, b.data(), n);
      INFO("read at " << hex(at) << ": " << (got.fault ? got.fault->message() : "ok"));
      REQUIRE(got.ok());
      REQUIRE(a == b);
      at += n;
    }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::unique_ptr<LimeZlibLayer> open_indexed(const std::string& path, const std::string& index_dir) {
  LimeZlibLayer::OpenOptions options;
  options.index_dir = index_dir;
  return LimeZlibLayer::open(std::make_shared<const MappedFile>(path), options);
}

}  // namespace

TEST_CASE("lime-zlib round trip: detected / indexed once then cached / bytes across spans") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  test::write_lime_zlib(source, dir.file("image.lime.z"));
  CHECK(open_image(dir.file("image.lime.z"))->format() == "lime-zlib");
  auto first = open_indexed(dir.file("image.lime.z"), dir.file("index"));
  CHECK(first->index_origin() == "built");
  CHECK(first->warnings().empty());
  CHECK(first->checkpoint_count() >= 4);
  CHECK(ranges_of(*first) == ranges_of(source));
  require_same_bytes(source, *first, ranges_of(source));
  auto again = open_indexed(dir.file("image.lime.z"), dir.file("index"));
  CHECK(again->index_origin() == "cached");
  CHECK(again->checkpoint_count() == first->checkpoint_count());
  // Random reads, straddling spans, through a small cache.
  std::mt19937_64 rng(9);
  std::vector<Range> ranges = ranges_of(source);
  for (int i = 0; i < 300; ++i) {
    const Range& r = ranges[rng() % ranges.size()];
    size_t n = 1 + rng() % 9000;
    if (n > r.size) n = r.size;
    uint64_t at = r.start + rng() % (r.size - n + 1);
    std::vector<uint8_t> a(n), b(n);
    REQUIRE(source.read(at, a.data(), n).ok());
    REQUIRE(again->read(at, b.data(), n).ok());
    REQUIRE(a == b);
  }
  uint8_t byte;
  IoResult hole = again->read(0x201000 - 1 + 0x200000, &byte, 1);
  REQUIRE(hole.fault);
  CHECK(hole.fault->reason == "physical address not in the image");
  std::vector<uint8_t> pad(0x300000), scan(0x300000);
  REQUIRE(again->read(0, pad.data(), pad.size(), kReadPad).ok());
  CHECK(again->scan_read(0, scan.data(), scan.size()).ok());
  CHECK(pad == scan);
}

TEST_CASE("lime-zlib: a damaged index in the cache is rebuilt") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  test::write_lime_zlib(source, dir.file("image"));
  auto first = open_indexed(dir.file("image"), dir.file("index"));
  REQUIRE_FALSE(first->index_path().empty());
  std::string index = read_bytes(first->index_path());
  index[index.size() / 2] ^= 0x40;
  write_bytes(first->index_path(), index);
  auto again = open_indexed(dir.file("image"), dir.file("index"));
  CHECK(again->index_origin() == "built");
  require_same_bytes(source, *again, ranges_of(source));
}

TEST_CASE("lime-zlib: a truncated stream opens with a warning / what decoded reads") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  test::write_lime_zlib(source, dir.file("image"));
  std::string bytes = read_bytes(dir.file("image"));
  write_bytes(dir.file("cut"), bytes.substr(0, bytes.size() * 3 / 4));
  auto layer = open_indexed(dir.file("cut"), dir.file("index"));
  REQUIRE_FALSE(layer->warnings().empty());
  CHECK(layer->warnings()[0].find("before its end (truncated acquisition?)") != std::string::npos);
  std::vector<Range> kept = ranges_of(*layer);
  REQUIRE_FALSE(kept.empty());
  CHECK(kept.front().start == 0x1000);
  uint64_t bytes_kept = 0;
  for (const Range& r : kept) bytes_kept += r.size;
  CHECK(bytes_kept < 0x180000 + 0x80000 + 0x100000 + 0x201000 + 0x3000);
  require_same_bytes(source, *layer, kept);
  bool warned = false;
  for (const auto& [k, v] : layer->describe()) warned |= k.rfind("warning", 0) == 0;
  CHECK(warned);
}

TEST_CASE("lime-zlib: a corrupt deflate block: a warning naming the file offset / the blocks before it read") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  test::LimeZlibWriteOptions options;
  options.full_flush_at = 0x200000;  // a block starts at a known file offset after 2 MiB of stream
  const uint64_t block = test::write_lime_zlib(source, dir.file("image"), options);
  REQUIRE(block > 0);
  std::string bytes = read_bytes(dir.file("image"));
  bytes[block] = static_cast<char>(0xff);  // BTYPE 11: a reserved block type
  write_bytes(dir.file("bad"), bytes);
  auto layer = open_indexed(dir.file("bad"), dir.file("index"));
  REQUIRE(layer->warnings().size() == 1);
  CHECK(layer->warnings()[0].find("the zlib stream is corrupt at file offset " + hex(block + 1)) != std::string::npos);
  CHECK(layer->warnings()[0].find("invalid block type") != std::string::npos);
  // The stream up to the flush point (2 MiB, in the first range) reads back.
  CHECK(layer->data_size() >= 0x200000 - 0x10000);
  CHECK(layer->data_size() <= 0x200000 + 0x1000);
  std::vector<Range> kept = ranges_of(*layer);
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].start == 0x1000);
  CHECK(kept[0].size == layer->data_size() - 32);
  require_same_bytes(source, *layer, kept);
}

TEST_CASE("lime-zlib: an Adler-32 that does not match: a warning / every byte read") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  test::write_lime_zlib(source, dir.file("image"));
  std::string bytes = read_bytes(dir.file("image"));
  bytes.back() ^= 1;
  write_bytes(dir.file("bad"), bytes);
  auto layer = open_indexed(dir.file("bad"), dir.file("index"));
  REQUIRE(layer->warnings().size() == 1);
  CHECK(layer->warnings()[0].find("Adler-32") != std::string::npos);
  CHECK(ranges_of(*layer) == ranges_of(source));
  require_same_bytes(source, *layer, ranges_of(source));
}

TEST_CASE("lime-zlib: a bad LiME header inside the stream / a zlib stream of something else: refused by name") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("limez");
  // A LiME header with version 2 inside the stream.
  {
    std::string lime(32, '\0');
    uint32_t magic = 0x4C694D45, version = 2;
    std::memcpy(lime.data(), &magic, 4);
    std::memcpy(lime.data() + 4, &version, 4);
    uint64_t start = 0, end = 0xfff;
    std::memcpy(lime.data() + 8, &start, 8);
    std::memcpy(lime.data() + 16, &end, 8);
    lime += std::string(0x1000, 'x');
    std::string packed(compressBound(lime.size()), '\0');
    uLongf length = packed.size();
    REQUIRE(compress2(reinterpret_cast<Bytef*>(packed.data()), &length, reinterpret_cast<const Bytef*>(lime.data()),
                      lime.size(), 6) == Z_OK);
    packed.resize(length);
    write_bytes(dir.file("v2"), packed);
    CHECK_THROWS_WITH(open_image(dir.file("v2")),
                      Catch::Contains(dir.file("v2") + ": lime-zlib: LiME header at stream offset 0x0") &&
                          Catch::Contains("unsupported LiME version 2"));
  }
  // LiME format=raw with compress=1: zlib, but no LiME header.
  {
    std::string raw(64 << 10, '\0');
    for (size_t i = 0; i < raw.size(); ++i) raw[i] = static_cast<char>(i * 7 / 13);
    std::string packed(compressBound(raw.size()), '\0');
    uLongf length = packed.size();
    REQUIRE(compress2(reinterpret_cast<Bytef*>(packed.data()), &length, reinterpret_cast<const Bytef*>(raw.data()),
                      raw.size(), 6) == Z_OK);
    packed.resize(length);
    write_bytes(dir.file("raw.z"), packed);
    CHECK_THROWS_WITH(open_image(dir.file("raw.z")),
                      Catch::Contains("lime-zlib: a zlib stream that does not start with a LiME header"));
  }
}

TEST_CASE("lime-zlib fixture: the guest as compressed LiME reads the LiME image's bytes / kernel found") {
  auto lime = open_image(test::fixture("image.lime"));
  test::TempDir dir("limez");
  test::write_lime_zlib(*lime, dir.file("image.lime.z"));
  auto layer = open_indexed(dir.file("image.lime.z"), dir.file("index"));
  CHECK(ranges_of(*layer) == ranges_of(*lime));
  require_same_bytes(*lime, *layer, ranges_of(*lime));
  SessionOptions options;
  options.image = dir.file("image.lime.z");
  Session session(options);
  CHECK(session.kernel().os_release == test::truth().at("kernel_release").get<std::string>());
}
