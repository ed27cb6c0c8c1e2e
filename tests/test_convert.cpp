#include <catch2/catch.hpp>

#include <cstdlib>
#include <sys/wait.h>
#include <filesystem>
#include <fstream>
#include <random>

#include "core/convert/convert.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/sha256.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/elf/elf_core_writer.h"
#include "formats/lime/lime_writer.h"
#include "formats/raw/raw_writer.h"
#include "core/layers/format_registry.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

ConvertOptions quiet_options(const std::string& to = "lz4") {
  ConvertOptions options;
  options.to = to;
  options.progress = false;
  options.threads = 2;
  return options;
}

std::vector<Range> ranges_of(const AddressSpace& space) {
  std::vector<Range> out;
  space.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

bool same_files(const std::string& a, const std::string& b) {
  std::ifstream x(a, std::ios::binary), y(b, std::ios::binary);
  std::vector<char> p(1 << 20), q(1 << 20);
  for (;;) {
    x.read(p.data(), static_cast<std::streamsize>(p.size()));
    y.read(q.data(), static_cast<std::streamsize>(q.size()));
    if (x.gcount() != y.gcount()) return false;
    if (x.gcount() == 0) return true;
    if (!std::equal(p.begin(), p.begin() + x.gcount(), q.begin())) return false;
  }
}

void synthetic(test::BufferSpace& space) {
  std::mt19937 rng(3);
  std::vector<uint8_t> bytes(0x6000);
  for (auto& b : bytes) b = static_cast<uint8_t>(rng() % 7);
  space.put(0x1000, bytes.data(), bytes.size());
  space.map(0x20000, 0x40000);
  space.put(0x200000, bytes.data(), 0x3000);
  space.mutable_notes().set_vmcoreinfo("OSRELEASE=6.1.0-convert\nPAGESIZE=4096\n");
  CpuState cpu;
  cpu.cr3 = 0xabc000;
  space.mutable_notes().cpus.push_back(cpu);
}

std::vector<std::string> leftovers(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().find(".partial-") != std::string::npos)
      names.push_back(entry.path().string());
  return names;
}

}  // namespace

TEST_CASE("synthetic LiME and ELF -> lz4 -> same physical bytes and notes -> back") {
  test::BufferSpace space;
  synthetic(space);
  test::TempDir dir("convert-synthetic");
  auto ranges = collect_ranges(space);
  write_lime_image(space, ranges, dir.file("in.lime"));
  write_elf_core(space, ranges, space.notes(), dir.file("in.elf"));

  for (const char* name : {"in.lime", "in.elf"}) {
    INFO(name);
    std::string lz4 = dir.file(std::string(name) + ".lz4");
    ConvertResult r = convert_image(dir.file(name), lz4, quiet_options());
    CHECK(r.verified);
    CHECK(r.data_bytes == 0x6000 + 0x40000 + 0x3000);
    CHECK(r.zero_chunks == 0);  // 1 MiB chunks: the zeros share chunks with data
    auto image = open_image(lz4);
    REQUIRE(image->format() == "lz4-seekable");
    CHECK(ranges_of(*image) == ranges_of(space));
    CHECK_NOTHROW(verify_same_physical_bytes(space, lz4));
    auto* layer = dynamic_cast<Lz4SeekableLayer*>(image.get());
    REQUIRE(layer);
    CHECK(layer->metadata().source_name == name);
    std::ifstream in(dir.file(name), std::ios::binary);
    std::vector<char> file((std::istreambuf_iterator<char>(in)), {});
    REQUIRE(layer->metadata().source_sha256);
    CHECK(*layer->metadata().source_sha256 == Sha256::of(file.data(), file.size()));
    CHECK(layer->metadata().source_size == file.size());
  }

  // ELF notes survive ELF -> lz4 -> ELF.
  ConvertResult back = convert_image(dir.file("in.elf.lz4"), dir.file("back.elf"), quiet_options("elf"));
  CHECK(back.verified);
  auto elf = open_image(dir.file("back.elf"));
  CHECK(elf->format() == "elf");
  CHECK(elf->notes().vmcoreinfo_keys.at("OSRELEASE") == "6.1.0-convert");
  CHECK(elf->notes().first_cr3() == 0xabc000);
  CHECK_NOTHROW(verify_same_physical_bytes(space, dir.file("back.elf")));

  ConvertResult lime = convert_image(dir.file("in.lime.lz4"), dir.file("back.lime"), quiet_options("lime"));
  CHECK(lime.verified);
  CHECK(same_files(dir.file("in.lime"), dir.file("back.lime")));
  CHECK(leftovers(dir.path()).empty());
}

TEST_CASE("convert refuses to overwrite / to write over its input / and unknown targets") {
  test::BufferSpace space;
  synthetic(space);
  test::TempDir dir("convert-refuse");
  write_lime_image(space, collect_ranges(space), dir.file("in.lime"));
  std::ofstream(dir.file("exists")) << "precious";
  CHECK_THROWS_WITH(convert_image(dir.file("in.lime"), dir.file("exists"), quiet_options()),
                    Catch::Contains("already exists"));
  CHECK_THROWS_WITH(convert_image(dir.file("in.lime"), dir.file("in.lime"), quiet_options()),
                    Catch::Contains("input image itself"));
  ConvertOptions force = quiet_options();
  force.force = true;
  CHECK_THROWS_WITH(convert_image(dir.file("in.lime"), dir.file("in.lime"), force), Catch::Contains("input image"));
  CHECK_THROWS_WITH(convert_image(dir.file("in.lime"), dir.file("x"), quiet_options("vmdk")),
                    Catch::Contains("unknown target"));
  ConvertOptions bad_chunk = quiet_options();
  bad_chunk.chunk_size = 1000;
  CHECK_THROWS_WITH(convert_image(dir.file("in.lime"), dir.file("x"), bad_chunk), Catch::Contains("chunk size"));
  CHECK_NOTHROW(convert_image(dir.file("in.lime"), dir.file("exists"), force));
  CHECK(open_image(dir.file("exists"))->format() == "lz4-seekable");
}

TEST_CASE("a failed convert leaves nothing under the final name and no partial file") {
  test::BufferSpace space;
  synthetic(space);
  test::TempDir dir("convert-fail");
  ConvertOptions options = quiet_options();
  options.chunk_size = 4096;
  write_lime_image(space, collect_ranges(space), dir.file("in.lime"));
  REQUIRE_NOTHROW(convert_image(dir.file("in.lime"), dir.file("good.lz4"), options));
  // Corrupt one chunk of the lz4 file, then convert it back: reading the
  // chunk fails midway through writing.
  auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(dir.file("good.lz4")));
  uint64_t at = layer->frame_offset(3) + layer->entry(3).compressed_size / 2;
  layer.reset();
  {
    std::fstream f(dir.file("good.lz4"), std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(static_cast<std::streamoff>(at));
    char c = static_cast<char>(f.get());
    f.seekp(static_cast<std::streamoff>(at));
    f.put(static_cast<char>(c ^ 0x41));
  }
  std::string temp_seen;
  options.on_temp_file = [&](const std::string& path) {
    if (!path.empty()) temp_seen = path;
  };
  for (const char* to : {"raw", "lz4"}) {
    options.to = to;
    std::string out = dir.file(std::string("out.") + to);
    CHECK_THROWS_WITH(convert_image(dir.file("good.lz4"), out, options), Catch::Contains("chunk 3"));
    CHECK_FALSE(fs::exists(out));
    CHECK(leftovers(dir.path()).empty());
    CHECK(temp_seen.find(".partial-") != std::string::npos);
  }
}

TEST_CASE("fixture raw -> lz4 -> raw is byte-identical - ELF and LiME keep their physical bytes") {
  std::string raw = test::fixture("image.raw");
  std::string elf = test::fixture("image.elf");
  std::string lime = test::fixture("image.lime");
  test::TempDir dir("convert-fixture");

  ConvertResult r = convert_image(raw, dir.file("raw.lz4"), quiet_options());
  CHECK(r.verified);
  CHECK(r.output_bytes < r.data_bytes / 2);  // a real memory image compresses
  auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(dir.file("raw.lz4")));
  // For a raw source the file is the data stream: both hashes agree.
  REQUIRE(layer->metadata().source_sha256);
  CHECK(layer->metadata().source_sha256 == layer->metadata().data_sha256);
  CHECK(Sha256::to_hex(*layer->metadata().source_sha256) ==
        test::truth()["images"]["image.raw"]["sha256"].get<std::string>());
  CHECK(layer->metadata().source_format == "raw");
  layer.reset();
  convert_image(dir.file("raw.lz4"), dir.file("back.raw"), quiet_options("raw"));
  CHECK(same_files(raw, dir.file("back.raw")));
  fs::remove(dir.file("back.raw"));

  auto elf_image = open_image(elf);
  REQUIRE(elf_image->format() == "elf");
  convert_image(elf, dir.file("elf.lz4"), quiet_options());
  auto from_elf = open_image(dir.file("elf.lz4"));
  CHECK(ranges_of(*from_elf) == ranges_of(*elf_image));
  CHECK_NOTHROW(verify_same_physical_bytes(*elf_image, dir.file("elf.lz4")));
  CHECK(from_elf->notes().vmcoreinfo == elf_image->notes().vmcoreinfo);
  REQUIRE(from_elf->notes().cpus.size() == elf_image->notes().cpus.size());
  CHECK(from_elf->notes().first_cr3() == elf_image->notes().first_cr3());
  const auto& truth = test::truth();
  CHECK(from_elf->notes().vmcoreinfo_keys.at("OSRELEASE") == truth["kernel_release"].get<std::string>());

  auto lime_image = open_image(lime);
  REQUIRE(lime_image->format() == "lime");
  convert_image(lime, dir.file("lime.lz4"), quiet_options());
  CHECK_NOTHROW(verify_same_physical_bytes(*lime_image, dir.file("lime.lz4")));
  // The ELF and LiME images of the same machine hold the same memory.
  auto from_lime = open_image(dir.file("lime.lz4"));
  auto* a = dynamic_cast<Lz4SeekableLayer*>(from_lime.get());
  auto* b = dynamic_cast<Lz4SeekableLayer*>(from_elf.get());
  REQUIRE(a);
  REQUIRE(b);
  // The source hashes are those of the evidence files.
  for (auto [layer, name] : {std::pair{a, "image.lime"}, std::pair{b, "image.elf"}}) {
    REQUIRE(layer->metadata().source_sha256);
    CHECK(Sha256::to_hex(*layer->metadata().source_sha256) == truth["images"][name]["sha256"].get<std::string>());
    CHECK(layer->metadata().source_size == truth["images"][name]["size"].get<uint64_t>());
  }
  if (a->metadata().ranges == b->metadata().ranges) CHECK(a->metadata().data_sha256 == b->metadata().data_sha256);
}

TEST_CASE("memscope convert on the command line") {
  test::BufferSpace space;
  synthetic(space);
  test::TempDir dir("convert-cli");
  write_lime_image(space, collect_ranges(space), dir.file("in.lime"));
  std::string cli = MEMSCOPE_CLI_PATH;
  std::string command = "'" + cli + "' convert -q '" + dir.file("in.lime") + "' '" + dir.file("out.lz4") +
                        "' --chunk-size 64K --level 9 --threads 2 > '" + dir.file("stdout") + "' 2>&1";
  REQUIRE(std::system(command.c_str()) == 0);
  std::ifstream printed(dir.file("stdout"));
  CHECK(std::string(std::istreambuf_iterator<char>(printed), {}).empty());  // -q: silent
  auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(dir.file("out.lz4")));
  CHECK(layer->metadata().chunk_size == 64 << 10);
  CHECK_NOTHROW(verify_same_physical_bytes(space, dir.file("out.lz4")));

  // The synthetic memory holds no kernel: info still describes the file,
  // and its exit status says that no kernel was found.
  command = "'" + cli + "' info -f '" + dir.file("out.lz4") + "' > '" + dir.file("info") + "' 2>&1";
  const int status = std::system(command.c_str());
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 1);
  std::ifstream info(dir.file("info"));
  std::string text(std::istreambuf_iterator<char>(info), {});
  CHECK(text.find("lz4-seekable") != std::string::npos);
  CHECK(text.find("in.lime") != std::string::npos);
  CHECK(text.find("source sha256") != std::string::npos);

  command = "'" + cli + "' convert -q '" + dir.file("in.lime") + "' '" + dir.file("out.lz4") + "' 2>/dev/null";
  CHECK(std::system(command.c_str()) != 0);  // exists, no --force
}

TEST_CASE("the verifier catches one changed byte and a missing range") {
  // convert's own check (verify_same_physical_bytes) is what the round-trip
  // tests above rely on: show that it fails when the copy differs.
  test::BufferSpace space;
  synthetic(space);
  test::TempDir dir("convert-verifier");
  write_lime_image(space, collect_ranges(space), dir.file("copy.lime"));
  REQUIRE_NOTHROW(verify_same_physical_bytes(space, dir.file("copy.lime")));

  SECTION("one byte of the data differs") {
    // The LiME file holds a 32-byte header then the first range's bytes:
    // change the 0x123rd byte of that range.
    const Range first = collect_ranges(space).front();
    {
      std::fstream f(dir.file("copy.lime"), std::ios::in | std::ios::out | std::ios::binary);
      f.seekg(32 + 0x123);
      char c = static_cast<char>(f.get());
      f.seekp(32 + 0x123);
      f.put(static_cast<char>(c ^ 0x5a));
    }
    CHECK_THROWS_WITH(verify_same_physical_bytes(space, dir.file("copy.lime")),
                      Catch::Contains("verification failed") && Catch::Contains(hex(first.start + 0x123)));
  }
  SECTION("a range is missing from the copy") {
    std::vector<Range> ranges = collect_ranges(space);
    REQUIRE(ranges.size() > 1);
    ranges.pop_back();
    write_lime_image(space, ranges, dir.file("copy.lime"));
    CHECK_THROWS_WITH(verify_same_physical_bytes(space, dir.file("copy.lime")),
                      Catch::Contains("verification failed"));
  }
}
