// LiME: images built by write_lime_image from a sparse in-memory space, and
// hand-crafted headers for the errors.
#include <catch2/catch.hpp>

#include <cstring>
#include <vector>

#include "core/util/error.h"
#include "core/layers/segmented_file_layer.h"
#include "formats/lime/lime_format.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// Distinct bytes per address, so a byte read from the wrong place shows.
uint8_t pattern(uint64_t address) { return static_cast<uint8_t>((address * 131) ^ (address >> 12)); }

void fill(test::BufferSpace& space, uint64_t start, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = pattern(start + i);
  space.put(start, bytes.data(), bytes.size());
}

std::vector<uint8_t> header_bytes(uint32_t magic, uint32_t version, uint64_t start, uint64_t end_inclusive) {
  lime::RangeHeader header;
  header.magic = magic;
  header.version = version;
  header.start = start;
  header.end_inclusive = end_inclusive;
  std::vector<uint8_t> bytes(sizeof header);
  std::memcpy(bytes.data(), &header, sizeof header);
  return bytes;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& bytes) { to.insert(to.end(), bytes.begin(), bytes.end()); }

std::vector<Range> ranges_of(AddressSpace& space) { return collect_ranges(space); }

}  // namespace

TEST_CASE("LiME round trip: ranges / reads across ranges / holes") {
  test::BufferSpace source;
  fill(source, 0x0, 0x3000);
  fill(source, 0x10000, 0x2000);
  fill(source, 0x1'0000'0000, 0x1000);  // above 4 GiB
  test::TempFile image("lime-roundtrip");
  write_lime_image(source, ranges_of(source), image.path());

  auto layer = open_image(image.path());
  REQUIRE(layer->format() == "lime");
  CHECK(layer->limit() == 0x1'0000'1000);
  CHECK(layer->file_size() == 3 * sizeof(lime::RangeHeader) + 0x6000);
  std::vector<Range> seen = ranges_of(*layer);
  REQUIRE(seen.size() == 3);
  CHECK(seen[0] == Range{0x0, 0x3000});
  CHECK(seen[1] == Range{0x10000, 0x2000});
  CHECK(seen[2] == Range{0x1'0000'0000, 0x1000});

  for (const Range& r : seen) {
    std::vector<uint8_t> got(r.size), want(r.size);
    REQUIRE(layer->read(r.start, got.data(), got.size()).ok());
    REQUIRE(source.read(r.start, want.data(), want.size()).ok());
    CHECK(got == want);
  }

  SECTION("a strict read stops at the hole and names it") {
    std::vector<uint8_t> out(0x100);
    IoResult result = layer->read(0x2f80, out.data(), out.size());
    CHECK_FALSE(result.ok());
    CHECK(result.done == 0x80);
    REQUIRE(result.fault);
    CHECK(result.fault->address == 0x3000);
    CHECK(result.fault->layer == "lime");
    CHECK(out[0x7f] == pattern(0x2fff));
  }
  SECTION("a padded read zero-fills the hole and continues into the next range") {
    std::vector<uint8_t> out(0x10000, 0xaa);
    IoResult result = layer->read(0x8000, out.data(), out.size(), kReadPad);
    CHECK(result.ok());
    CHECK(result.done == out.size());
    CHECK(out[0] == 0);
    CHECK(out[0x7fff] == 0);
    CHECK(out[0x8000] == pattern(0x10000));
    CHECK(out[0x9fff] == pattern(0x11fff));
    CHECK(out[0xa000] == 0);  // past the range again
  }
  SECTION("peek returns the mapped bytes without copying") {
    const uint8_t* p = layer->peek(0x10010, 0x100);
    REQUIRE(p != nullptr);
    CHECK(p[0] == pattern(0x10010));
    CHECK(layer->peek(0x2f00, 0x200) == nullptr);  // crosses into a hole
  }
  SECTION("describe lists the ranges") {
    LayerDescription lines = layer->describe();
    REQUIRE_FALSE(lines.empty());
    CHECK(lines[0].first == "LiME ranges");
    CHECK(lines[0].second == "3");
  }
}

TEST_CASE("LiME writer: inclusive ends / sub-page ranges / progress") {
  test::BufferSpace source;
  fill(source, 0x0, 0x3000);
  // Ranges need not be page-aligned nor sorted: the writer sorts them.
  std::vector<Range> ranges{{0x2005, 0x10}, {0x100, 0x300}};
  test::TempFile image("lime-writer");
  std::vector<std::pair<uint64_t, uint64_t>> calls;
  write_lime_image(source, ranges, image.path(), [&](uint64_t done, uint64_t total) { calls.emplace_back(done, total); });

  std::vector<uint8_t> bytes = image.read();
  REQUIRE(bytes.size() == 2 * sizeof(lime::RangeHeader) + 0x310);
  lime::RangeHeader first, second;
  std::memcpy(&first, bytes.data(), sizeof first);
  std::memcpy(&second, bytes.data() + sizeof first + 0x300, sizeof second);
  CHECK(first.magic == lime::kMagic);
  CHECK(first.version == 1);
  CHECK(first.start == 0x100);
  CHECK(first.end_inclusive == 0x3ff);
  CHECK(second.start == 0x2005);
  CHECK(second.end_inclusive == 0x2014);
  CHECK(bytes[sizeof first] == pattern(0x100));

  REQUIRE_FALSE(calls.empty());
  CHECK(calls.back() == std::pair<uint64_t, uint64_t>{0x310, 0x310});
  for (size_t i = 1; i < calls.size(); ++i) CHECK(calls[i].first > calls[i - 1].first);

  auto layer = open_image(image.path());
  CHECK(layer->read_value<uint8_t>(0x2014) == pattern(0x2014));
  uint8_t byte;
  CHECK_FALSE(layer->read(0x2015, &byte, 1).ok());
}

TEST_CASE("LiME reader refuses bad headers / naming the file and header offset") {
  test::TempFile image("lime-bad");
  auto open_bad = [&](const std::vector<uint8_t>& bytes) {
    image.write(bytes);
    return open_image(image.path());
  };
  std::vector<uint8_t> good = header_bytes(lime::kMagic, 1, 0x1000, 0x1fff);
  append(good, std::vector<uint8_t>(0x1000, 0x11));

  SECTION("end below start") {
    CHECK_THROWS_AS(open_bad(header_bytes(lime::kMagic, 1, 0x2000, 0x1000)), FormatError);
    CHECK_THROWS_WITH(open_bad(header_bytes(lime::kMagic, 1, 0x2000, 0x1000)),
                      Catch::Contains(image.path()) && Catch::Contains("offset 0x0") &&
                          Catch::Contains("below its start"));
  }
  SECTION("bad magic in a later header: the ranges before it are served with a warning") {
    std::vector<uint8_t> bytes = good;
    append(bytes, header_bytes(0xdeadbeef, 1, 0x3000, 0x3fff));
    append(bytes, std::vector<uint8_t>(0x1000));
    auto layer = open_bad(bytes);
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains(image.path()) && Catch::Contains("offset 0x1020") &&
                                         Catch::Contains("bad magic"));
    CHECK(layer->read_value<uint8_t>(0x1fff) == 0x11);
    uint8_t byte = 0;
    CHECK_FALSE(layer->read(0x3000, &byte, 1).ok());
  }
  SECTION("wrong version") {
    std::vector<uint8_t> bytes = header_bytes(lime::kMagic, 2, 0, 0xf);
    append(bytes, std::vector<uint8_t>(0x10));
    CHECK_THROWS_WITH(open_bad(bytes), Catch::Contains(image.path()) && Catch::Contains("version 2"));
  }
  SECTION("range running past the end of the file: its bytes in the file are served") {
    std::vector<uint8_t> bytes = good;
    bytes.resize(bytes.size() - 1);
    auto layer = open_bad(bytes);
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains(image.path()) && Catch::Contains("offset 0x0") &&
                                         Catch::Contains("truncated") && Catch::Contains("0x1fff-0x1fff"));
    CHECK(layer->read_value<uint8_t>(0x1ffe) == 0x11);
    uint8_t byte = 0;
    IoResult past = layer->read(0x1fff, &byte, 1);
    REQUIRE_FALSE(past.ok());
    CHECK_THAT(past.fault->message(), Catch::Contains("0x1fff") && Catch::Contains("not in the file"));
  }
  SECTION("a header cut short") {
    std::vector<uint8_t> bytes = good;
    append(bytes, header_bytes(lime::kMagic, 1, 0x3000, 0x3fff));
    bytes.resize(bytes.size() - 8);
    auto layer = open_bad(bytes);
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains("offset 0x1020") && Catch::Contains("truncated"));
    CHECK(layer->read_value<uint8_t>(0x1abc) == 0x11);
  }
  SECTION("a range covering the whole address space") {
    std::vector<uint8_t> bytes = header_bytes(lime::kMagic, 1, 0, ~uint64_t{0});
    append(bytes, std::vector<uint8_t>(0x10));
    CHECK_THROWS_AS(open_bad(bytes), FormatError);
  }
  SECTION("a huge range length does not allocate or over-read") {
    std::vector<uint8_t> bytes = header_bytes(lime::kMagic, 1, 0x1000, 0xffff'ffff'ffff'0000);
    CHECK_THROWS_WITH(open_bad(bytes), Catch::Contains("truncated") && Catch::Contains("no memory"));
  }
  SECTION("overlapping ranges: the lower one is used there / with a warning") {
    std::vector<uint8_t> bytes = good;
    append(bytes, header_bytes(lime::kMagic, 1, 0x1800, 0x18ff));
    append(bytes, std::vector<uint8_t>(0x100, 0x22));
    auto layer = open_bad(bytes);
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings()[0], Catch::Contains(image.path()) && Catch::Contains("overlap"));
    CHECK(layer->read_value<uint8_t>(0x1800) == 0x11);
  }
  SECTION("the good image opens") {
    auto layer = open_bad(good);
    CHECK(layer->format() == "lime");
    CHECK(layer->read_value<uint8_t>(0x1abc) == 0x11);
  }
}
