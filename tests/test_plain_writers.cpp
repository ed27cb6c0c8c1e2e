// The raw writer, and rules shared by all plain writers: sorting, refusing
// overlaps and unreadable bytes, never overwriting the evidence.
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <vector>

#include "core/util/error.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

uint8_t pattern(uint64_t address) { return static_cast<uint8_t>((address * 197) ^ (address >> 11)); }

void fill(test::BufferSpace& space, uint64_t start, uint64_t size) {
  std::vector<uint8_t> bytes(size);
  for (uint64_t i = 0; i < size; ++i) bytes[i] = pattern(start + i);
  space.put(start, bytes.data(), bytes.size());
}

}  // namespace

TEST_CASE("raw writer: physical 0 to the end of the last range / holes as zeros") {
  test::BufferSpace source;
  fill(source, 0x3000, 0x2000);
  fill(source, 0x400000, 0x1000);
  test::TempFile image("raw-writer");
  uint64_t last_done = 0, last_total = 0;
  write_raw_image(source, collect_ranges(source), image.path(), [&](uint64_t done, uint64_t total) {
    CHECK(done >= last_done);
    last_done = done;
    last_total = total;
  });
  CHECK(last_done == 0x401000);
  CHECK(last_total == 0x401000);

  std::vector<uint8_t> bytes = image.read();
  REQUIRE(bytes.size() == 0x401000);
  CHECK(bytes[0] == 0);
  CHECK(bytes[0x2fff] == 0);
  CHECK(bytes[0x3000] == pattern(0x3000));
  CHECK(bytes[0x4fff] == pattern(0x4fff));
  CHECK(bytes[0x5000] == 0);
  CHECK(bytes[0x400abc] == pattern(0x400abc));

  auto layer = open_image(image.path());
  CHECK(layer->format() == "raw");
  CHECK(layer->limit() == 0x401000);
}

TEST_CASE("raw writer copies ranges larger than one chunk") {
  test::BufferSpace source;
  const uint64_t size = kWriteChunk * 2 + 0x3000;  // not a multiple of the chunk
  fill(source, 0, size);
  test::TempFile image("raw-chunks");
  write_raw_image(source, collect_ranges(source), image.path());
  std::vector<uint8_t> bytes = image.read();
  REQUIRE(bytes.size() == size);
  for (uint64_t at : {uint64_t{0}, kWriteChunk - 1, uint64_t{kWriteChunk}, 2 * kWriteChunk + 0x2fff})
    CHECK(bytes[at] == pattern(at));
}

TEST_CASE("writers refuse overlapping ranges / unreadable bytes / and bad output paths") {
  test::BufferSpace source;
  fill(source, 0x1000, 0x2000);
  test::TempDir dir("writers");
  const std::string out = dir.file("out.img");

  CHECK_THROWS_WITH(write_lime_image(source, {{0x1000, 0x1000}, {0x1800, 0x100}}, out),
                    Catch::Contains(out) && Catch::Contains("overlap"));
  // 0x3000.. is not in the source: the copy must stop rather than invent bytes.
  CHECK_THROWS_WITH(write_elf_core(source, {{0x1000, 0x3000}}, ImageNotes{}, out),
                    Catch::Contains(out) && Catch::Contains("0x3000"));
  CHECK_THROWS_WITH(write_raw_image(source, {{0x1000, 0x1000}}, dir.file("missing-dir/out.img")),
                    Catch::Contains("missing-dir/out.img"));
}

TEST_CASE("writers never overwrite the image they read from") {
  test::BufferSpace source;
  fill(source, 0, 0x2000);
  test::TempFile evidence("evidence");
  write_lime_image(source, collect_ranges(source), evidence.path());
  std::vector<uint8_t> before = evidence.read();

  auto layer = open_image(evidence.path());
  CHECK_THROWS_WITH(write_raw_image(*layer, collect_ranges(*layer), evidence.path()),
                    Catch::Contains("refusing to overwrite"));
  CHECK(evidence.read() == before);
}

TEST_CASE("LiME -> ELF -> raw conversions keep every byte") {
  test::BufferSpace source;
  fill(source, 0x0, 0x5000);
  fill(source, 0x9000, 0x1000);
  test::TempDir dir("convert");
  write_lime_image(source, collect_ranges(source), dir.file("a.lime"));
  auto lime = open_image(dir.file("a.lime"));
  write_elf_core(*lime, collect_ranges(*lime), lime->notes(), dir.file("b.elf"));
  auto elf = open_image(dir.file("b.elf"));
  write_raw_image(*elf, collect_ranges(*elf), dir.file("c.raw"));
  auto raw = open_image(dir.file("c.raw"));

  CHECK(collect_ranges(*elf) == collect_ranges(source));
  std::vector<uint8_t> want(0xa000), got(0xa000);
  REQUIRE(source.read(0, want.data(), want.size(), kReadPad).ok());
  REQUIRE(raw->read(0, got.data(), got.size()).ok());
  CHECK(got == want);
  // The hole 0x5000..0x9000 is part of the raw file (as zeros, checked above).
  struct stat st {};
  REQUIRE(::stat(dir.file("c.raw").c_str(), &st) == 0);
  CHECK(static_cast<uint64_t>(st.st_size) == 0xa000);
}
