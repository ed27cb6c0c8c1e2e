// Bad evidence through the front door (open_image): every case gets a
// memscope::Error that names the file; none crashes, hangs or over-reads.
#include <catch2/catch.hpp>

#include <elf.h>

#include <cstring>
#include <random>
#include <vector>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/lime/lime_format.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// A small valid image of each kind, written by our own writers.
std::vector<uint8_t> small_image(const std::string& format) {
  test::BufferSpace source;
  std::vector<uint8_t> bytes(0x1000);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i);
  source.put(0x1000, bytes.data(), bytes.size());
  source.put(0x5000, bytes.data(), bytes.size());
  ImageNotes notes;
  notes.set_vmcoreinfo("OSRELEASE=6.1.0-bad\nPAGESIZE=4096\n");
  notes.cpus.push_back(CpuState{0, 0x80050033, 0x1000, 0x6f0});
  test::TempFile file("bad-source");
  if (format == "lime") write_lime_image(source, collect_ranges(source), file.path());
  else write_elf_core(source, collect_ranges(source), notes, file.path());
  return file.read();
}

enum class Outcome { kRefused, kOpened };

// Opens `bytes` as an image. Refused: the error must name the file. Opened:
// the ranges must be sorted, disjoint and below limit(), and every byte of
// every mapped range (the first MiB of each) must read back with a strict
// read, since an uncompressed format only maps what its file holds.
Outcome open_and_read(const test::TempFile& file, const std::vector<uint8_t>& bytes) {
  file.write(bytes);
  std::unique_ptr<PhysicalLayer> layer;
  try {
    layer = open_image(file.path());
  } catch (const Error& e) {
    CHECK_THAT(e.what(), Catch::Contains(file.path()));
    return Outcome::kRefused;
  }
  std::vector<uint8_t> buffer(0x1000);
  uint64_t previous_end = 0;
  bool first = true;
  layer->ranges([&](const Range& r) {
    CHECK(r.size > 0);
    CHECK((first || r.start >= previous_end));
    CHECK((layer->limit() == 0 || r.end() <= layer->limit()));
    first = false;
    previous_end = r.end();
    for (uint64_t at = r.start; at - r.start < r.size && at - r.start < 0x100000; at += buffer.size()) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), r.end() - at));
      IoResult got = layer->read(at, buffer.data(), n);
      INFO(file.path() << ": mapped range " << hex(r.start) << "+" << hex(r.size) << " at " << hex(at));
      CHECK(got.done == n);
      if (got.fault) FAIL_CHECK(got.fault->message());
    }
    return true;
  });
  (void)layer->describe();
  (void)layer->notes();
  return Outcome::kOpened;
}

}  // namespace

TEST_CASE("bad images: a clear error naming the path") {
  test::TempFile file("bad-image");

  SECTION("truncated LiME: opened with a warning naming the path") {
    // Damaged evidence is served as far as it goes: what the file still
    // holds reads, and the warning says where it ends.
    std::vector<uint8_t> bytes = small_image("lime");
    bytes.resize(bytes.size() - 100);
    file.write(bytes);
    auto layer = open_image(file.path());
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings().front(), Catch::Contains(file.path()) && Catch::Contains("truncated"));
  }
  SECTION("LiME header with end < start") {
    lime::RangeHeader header;
    header.start = 0x5000;
    header.end_inclusive = 0x4fff;
    std::string bytes(reinterpret_cast<const char*>(&header), sizeof header);
    bytes += std::string(0x100, 'x');
    file.write(bytes);
    CHECK_THROWS_AS(open_image(file.path()), FormatError);
    CHECK_THROWS_WITH(open_image(file.path()), Catch::Contains(file.path()) && Catch::Contains("0x4fff"));
  }
  SECTION("ELF with a segment past the end of the file: opened with a warning naming the path") {
    std::vector<uint8_t> bytes = small_image("elf");
    bytes.resize(bytes.size() - 0x800);
    file.write(bytes);
    auto layer = open_image(file.path());
    REQUIRE(layer->warnings().size() == 1);
    CHECK_THAT(layer->warnings().front(), Catch::Contains(file.path()) && Catch::Contains("truncated"));
  }
  SECTION("ELF note with a lying length") {
    std::vector<uint8_t> bytes = small_image("elf");
    Elf64_Ehdr ehdr;
    std::memcpy(&ehdr, bytes.data(), sizeof ehdr);
    Elf64_Phdr note;
    std::memcpy(&note, bytes.data() + ehdr.e_phoff, sizeof note);
    REQUIRE(note.p_type == PT_NOTE);
    uint32_t lying = static_cast<uint32_t>(note.p_filesz);  // the descriptor alone is as long as the segment
    std::memcpy(bytes.data() + note.p_offset + 4, &lying, sizeof lying);
    file.write(bytes);
    CHECK_THROWS_AS(open_image(file.path()), FormatError);
    CHECK_THROWS_WITH(open_image(file.path()), Catch::Contains(file.path()) && Catch::Contains("note"));
  }
  SECTION("zero-length file") {
    file.write(std::vector<uint8_t>{});
    CHECK_THROWS_AS(open_image(file.path()), Error);
    CHECK_THROWS_WITH(open_image(file.path()), Catch::Contains(file.path()) && Catch::Contains("empty"));
  }
  SECTION("a directory") {
    test::TempDir dir("bad-dir");
    CHECK_THROWS_AS(open_image(dir.path()), Error);
    CHECK_THROWS_WITH(open_image(dir.path()), Catch::Contains(dir.path()) && Catch::Contains("directory"));
  }
  SECTION("a missing file") {
    std::string missing = file.path() + "-does-not-exist";
    CHECK_THROWS_AS(open_image(missing), Error);
    CHECK_THROWS_WITH(open_image(missing), Catch::Contains(missing));
  }
  SECTION("an ELF file cut inside its header") {
    std::vector<uint8_t> bytes = small_image("elf");
    bytes.resize(20);
    file.write(bytes);
    CHECK_THROWS_AS(open_image(file.path()), FormatError);
    CHECK_THROWS_WITH(open_image(file.path()), Catch::Contains(file.path()));
  }
  SECTION("a LiME magic and nothing else") {
    file.write(std::string("EMiL"));
    CHECK_THROWS_WITH(open_image(file.path()), Catch::Contains(file.path()) && Catch::Contains("truncated"));
  }
}

TEST_CASE("bad images: mutated headers never crash") {
  // Random corruption of the header area of small LiME and ELF images,
  // reproducible from a fixed seed. Each variant either opens (and then
  // reads cleanly) or is refused with an Error naming the file.
  test::TempFile file("mutated");
  std::mt19937_64 random(20240611);
  for (const char* format : {"lime", "elf"}) {
    int opened = 0, refused = 0;
    const std::vector<uint8_t> original = small_image(format);
    // LiME: both range headers (0x0 and 0x1020); ELF: the headers and notes.
    const bool lime = std::string(format) == "lime";
    for (int round = 0; round < 400; ++round) {
      std::vector<uint8_t> bytes = original;
      int flips = 1 + static_cast<int>(random() % 4);
      for (int i = 0; i < flips; ++i) {
        size_t at = lime ? (random() % 2 ? 0x1020 : 0) + random() % sizeof(lime::RangeHeader) : random() % 0x400;
        if (random() % 2) bytes[at] = static_cast<uint8_t>(random());
        else bytes[at] = (random() % 2) ? 0xff : 0x00;
      }
      if (random() % 8 == 0) bytes.resize(random() % bytes.size() + 1);
      (open_and_read(file, bytes) == Outcome::kOpened ? opened : refused)++;
    }
    // Both outcomes were exercised, so both kinds of check above ran.
    INFO(format << ": " << opened << " opened, " << refused << " refused");
    CHECK(opened > 0);
    CHECK(refused > 0);
  }
}
