#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>
#include <vector>

#include "core/util/error.h"
#include "core/layers/segmented_file_layer.h"
#include "support/temp_file.h"

using namespace memscope;

TEST_CASE("segmented layer reads across segments and reports holes") {
  test::TempFile tmp("segments");
  std::vector<uint8_t> bytes(0x3000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 7);
  tmp.write(bytes);
  auto file = std::make_shared<const MappedFile>(tmp.path());
  // physical 0x1000..0x2000 <- file 0; physical 0x2000..0x3000 <- file 0x1000;
  // hole; physical 0x5000..0x6000 <- file 0x2000.
  SegmentedFileLayer layer(file, "test", {{0x5000, 0x1000, 0x2000}, {0x1000, 0x1000, 0}, {0x2000, 0x1000, 0x1000}});
  REQUIRE(layer.limit() == 0x6000);

  std::vector<uint8_t> out(0x2000);
  IoResult r = layer.read(0x1000, out.data(), out.size());
  REQUIRE(r.ok());
  REQUIRE(r.done == 0x2000);
  CHECK(std::equal(out.begin(), out.end(), bytes.begin()));

  r = layer.read(0x2ff0, out.data(), 0x20);
  CHECK_FALSE(r.ok());
  CHECK(r.done == 0x10);
  CHECK(r.fault->address == 0x3000);
  CHECK(r.fault->message().find("0x3000") != std::string::npos);

  out.assign(0x2020, 0xAA);
  r = layer.read(0x2ff0, out.data(), 0x2020, kReadPad);
  CHECK(r.ok());
  CHECK(r.done == 0x2020);
  CHECK(out[0x10] == 0);
  CHECK(out[0x2010] == bytes[0x2000]);

  std::vector<Range> seen;
  layer.ranges([&](const Range& range) { seen.push_back(range); return true; });
  REQUIRE(seen.size() == 2);
  CHECK(seen[0] == Range{0x1000, 0x2000});
  CHECK(seen[1] == Range{0x5000, 0x1000});

  CHECK(layer.peek(0x1800, 0x100) == file->data() + 0x800);
  CHECK(layer.peek(0x1800, 0x1000) == nullptr);  // runs past the end of its segment
}

TEST_CASE("released pages read back the same / and peek pointers stay valid") {
  test::TempFile tmp("released");
  std::vector<uint8_t> bytes(0x5000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 13 + 1);
  tmp.write(bytes);
  auto file = std::make_shared<const MappedFile>(tmp.path());
  SegmentedFileLayer layer(file, "test", {{0x10000, 0x3000, 0x800}, {0x20000, 0x1000, 0x3800}});
  const uint8_t* before = layer.peek(0x10000, 0x3000);
  REQUIRE(before);
  uint64_t sum = 0;
  for (size_t i = 0; i < 0x3000; ++i) sum += before[i];  // maps the pages in
  // Unaligned, across a hole, past the end: only whole mapped pages go.
  layer.release(0x10010, 0x20000);
  layer.release(0, ~uint64_t{0});
  file->release(0x123, 0x10);
  CHECK(layer.peek(0x10000, 0x3000) == before);
  uint64_t again = 0;
  for (size_t i = 0; i < 0x3000; ++i) again += before[i];
  CHECK(again == sum);
  std::vector<uint8_t> out(0x1000);
  REQUIRE(layer.read(0x20000, out.data(), out.size()).ok());
  CHECK(std::equal(out.begin(), out.end(), bytes.begin() + 0x3800));
}

TEST_CASE("segmented layer serves a segment cut by the end of the file / and warns naming what is missing") {
  test::TempFile tmp("short");
  tmp.write(std::vector<uint8_t>(0x100, 1));
  auto file = std::make_shared<const MappedFile>(tmp.path());
  SegmentedFileLayer layer(file, "test", {{0x1000, 0x200, 0}});
  REQUIRE(layer.warnings().size() == 1);
  CHECK_THAT(layer.warnings()[0], Catch::Contains(tmp.path()) && Catch::Contains("truncated") &&
                                      Catch::Contains("0x1100-0x1200"));
  CHECK(layer.read_value<uint8_t>(0x10ff) == 1);
  uint8_t byte = 0;
  IoResult past = layer.read(0x1100, &byte, 1);
  REQUIRE_FALSE(past.ok());
  CHECK(past.fault->address == 0x1100);
  CHECK_THAT(past.fault->message(), Catch::Contains("0x1100") && Catch::Contains("not in the file"));
  // Nothing of the memory in the file: an error, not an empty image.
  CHECK_THROWS_WITH(SegmentedFileLayer(file, "test", {{0, 0x10, 0x200}}),
                    Catch::Contains(tmp.path()) && Catch::Contains("no memory"));
  CHECK_THROWS_AS(SegmentedFileLayer(file, "test", {{~uint64_t{0} - 0x10, 0x80, 0}}), FormatError);
}

TEST_CASE("segmented layer: overlapping segments / the lower one keeps the addresses with a warning") {
  test::TempFile tmp("overlap");
  std::vector<uint8_t> bytes(0x100, 1);
  std::fill(bytes.begin() + 0x80, bytes.end(), 2);
  tmp.write(bytes);
  auto file = std::make_shared<const MappedFile>(tmp.path());
  SegmentedFileLayer layer(file, "test", {{0x40, 0x80, 0x80}, {0, 0x80, 0}});
  REQUIRE(layer.warnings().size() == 1);
  CHECK_THAT(layer.warnings()[0], Catch::Contains("overlap") && Catch::Contains("0x40-0x80"));
  CHECK(layer.read_value<uint8_t>(0x7f) == 1);   // the lower segment's byte
  CHECK(layer.read_value<uint8_t>(0x80) == 2);   // the other's, beyond the overlap
  CHECK(layer.read_value<uint8_t>(0xbf) == 2);
  CHECK(layer.limit() == 0xc0);
}

TEST_CASE("mapped file refuses a directory / a missing file and an empty file") {
  CHECK_THROWS_WITH(MappedFile("/"), Catch::Contains("directory"));
  CHECK_THROWS_WITH(MappedFile("/nonexistent/image.raw"), Catch::Contains("/nonexistent/image.raw"));
  test::TempFile tmp("empty");
  tmp.write(std::vector<uint8_t>{});
  CHECK_THROWS_WITH(MappedFile(tmp.path()), Catch::Contains("empty"));
}
