// Hostile containers built by the tests: ELF cores whose program headers
// overlap or number 65535, LiME files with overlapping ranges or a 2^48-byte
// range, seekable LZ4 files whose seek table lies, plain LZ4 files whose
// block sizes lie, profiles whose layouts lie, and a profile cache that
// lies. Each: a clear error or a warning naming what is wrong, memory and
// time bounded (shown by what the result holds), the rest of the image
// right.
#include <elf.h>
#define XXH_INLINE_ALL
#include <xxhash.h>

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/layers/format_registry.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/lime/lime_format.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/isf/isf_loader.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

template <typename T>
void append(std::vector<uint8_t>& bytes, const T& value) {
  const auto* p = reinterpret_cast<const uint8_t*>(&value);
  bytes.insert(bytes.end(), p, p + sizeof value);
}

std::vector<uint8_t> pattern(size_t size, uint8_t seed) {
  std::vector<uint8_t> out(size);
  for (size_t i = 0; i < size; ++i) out[i] = static_cast<uint8_t>(seed + i * 7);
  return out;
}

Elf64_Ehdr elf_header(uint16_t phnum, uint64_t shoff = 0, uint16_t shnum = 0) {
  Elf64_Ehdr e{};
  std::memcpy(e.e_ident, ELFMAG, SELFMAG);
  e.e_ident[EI_CLASS] = ELFCLASS64;
  e.e_ident[EI_DATA] = ELFDATA2LSB;
  e.e_ident[EI_VERSION] = EV_CURRENT;
  e.e_type = ET_CORE;
  e.e_machine = EM_X86_64;
  e.e_version = EV_CURRENT;
  e.e_phoff = sizeof(Elf64_Ehdr);
  e.e_ehsize = sizeof(Elf64_Ehdr);
  e.e_phentsize = sizeof(Elf64_Phdr);
  e.e_phnum = phnum;
  e.e_shoff = shoff;
  e.e_shentsize = shnum ? sizeof(Elf64_Shdr) : 0;
  e.e_shnum = shnum;
  return e;
}

Elf64_Phdr load(uint64_t paddr, uint64_t offset, uint64_t size) {
  Elf64_Phdr p{};
  p.p_type = PT_LOAD;
  p.p_offset = offset;
  p.p_paddr = paddr;
  p.p_filesz = p.p_memsz = size;
  p.p_align = 4096;
  return p;
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

}  // namespace

TEST_CASE("hostile ELF: program headers that overlap / the lower one is used with a warning") {
  const uint64_t data = 0x1000;
  std::vector<uint8_t> bytes;
  append(bytes, elf_header(2));
  append(bytes, load(0x0, data, 0x2000));
  append(bytes, load(0x1000, data + 0x2000, 0x2000));  // 0x1000-0x3000, overlapping the first's second page
  bytes.resize(data);
  std::vector<uint8_t> first = pattern(0x2000, 1), second = pattern(0x2000, 99);
  bytes.insert(bytes.end(), first.begin(), first.end());
  bytes.insert(bytes.end(), second.begin(), second.end());
  test::TempFile file("hostile-elf-overlap");
  file.write(bytes);
  auto layer = open_image(file.path());
  REQUIRE(layer->warnings().size() == 1);
  CHECK_THAT(layer->warnings()[0], Catch::Contains("overlap") && Catch::Contains("0x1000-0x2000"));
  CHECK(layer->read_value<uint8_t>(0x1800) == first[0x1800]);
  CHECK(layer->read_value<uint8_t>(0x2800) == second[0x1800]);
  CHECK(layer->limit() == 0x3000);
}

TEST_CASE("hostile ELF: 65535 program headers (PN_XNUM) all claiming one page / bounded and read once") {
  // e_phnum = PN_XNUM: the count is in section header 0's sh_info.
  const uint32_t count = 65535;
  const uint64_t shoff = sizeof(Elf64_Ehdr);
  const uint64_t phoff = shoff + sizeof(Elf64_Shdr);
  const uint64_t data = (phoff + count * sizeof(Elf64_Phdr) + 0xfff) & ~0xfffull;
  std::vector<uint8_t> bytes;
  Elf64_Ehdr e = elf_header(PN_XNUM, shoff, 1);
  e.e_phoff = phoff;
  append(bytes, e);
  Elf64_Shdr zero{};
  zero.sh_info = count;
  append(bytes, zero);
  for (uint32_t i = 0; i < count; ++i) append(bytes, load(0x5000, data, 0x1000));
  bytes.resize(data);
  std::vector<uint8_t> page = pattern(0x1000, 3);
  bytes.insert(bytes.end(), page.begin(), page.end());
  test::TempFile file("hostile-elf-xnum");
  file.write(bytes);
  auto layer = open_image(file.path());
  // One segment kept (the others lie inside it), one range.
  uint64_t ranges = 0;
  layer->ranges([&](const Range& r) {
    ++ranges;
    CHECK(r.start == 0x5000);
    CHECK(r.size == 0x1000);
    return true;
  });
  CHECK(ranges == 1);
  CHECK(layer->read_value<uint8_t>(0x5abc) == page[0xabc]);
  CHECK(layer->describe().front().second.find("65535") != std::string::npos);

  SECTION("PN_XNUM without the section header that holds the count: 65535 headers, bounded") {
    Elf64_Ehdr bad = elf_header(PN_XNUM);
    bad.e_phoff = phoff;
    std::memcpy(bytes.data(), &bad, sizeof bad);
    file.write(bytes);
    auto taken = open_image(file.path());
    CHECK(taken->limit() == 0x6000);
  }
  SECTION("a count the file cannot hold: the headers it holds are used / a warning names the rest") {
    zero.sh_info = 0xffffffff;
    std::memcpy(bytes.data() + shoff, &zero, sizeof zero);
    file.write(bytes);
    auto cut = open_image(file.path());
    REQUIRE_FALSE(cut->warnings().empty());
    CHECK_THAT(cut->warnings()[0], Catch::Contains("program header table") && Catch::Contains("4294967294"));
  }
}

TEST_CASE("hostile LiME: overlapping ranges and a 2^48-byte range / what the file holds is served with warnings") {
  std::vector<uint8_t> bytes;
  auto header = [&](uint64_t start, uint64_t end_inclusive) {
    lime::RangeHeader h;
    h.start = start;
    h.end_inclusive = end_inclusive;
    append(bytes, h);
  };
  std::vector<uint8_t> a = pattern(0x2000, 5), b = pattern(0x1000, 50);
  header(0x1000, 0x2fff);
  bytes.insert(bytes.end(), a.begin(), a.end());
  header(0x2000, 0x2fff);  // inside the first
  bytes.insert(bytes.end(), b.begin(), b.end());
  header(0x10000, 0x10000 + (uint64_t{1} << 48) - 1);  // 256 TiB claimed, one page there
  std::vector<uint8_t> c = pattern(0x1000, 77);
  bytes.insert(bytes.end(), c.begin(), c.end());
  test::TempFile file("hostile-lime");
  file.write(bytes);
  auto layer = open_image(file.path());
  std::string warnings;
  for (const std::string& w : layer->warnings()) warnings += w + "\n";
  INFO(warnings);
  CHECK_THAT(warnings, Catch::Contains("overlap") && Catch::Contains("truncated") &&
                           Catch::Contains(hex(uint64_t{0x11000})));
  CHECK(layer->read_value<uint8_t>(0x2800) == a[0x1800]);  // the lower range's byte
  CHECK(layer->read_value<uint8_t>(0x10fff) == c[0xfff]);
  uint8_t byte = 0;
  IoResult past = layer->read(0x11000, &byte, 1);
  REQUIRE_FALSE(past.ok());
  CHECK_THAT(past.fault->message(), Catch::Contains("0x11000") && Catch::Contains("not in the file"));
  CHECK(layer->limit() == 0x11000);  // bounded by the file, not by the header's claim
}

TEST_CASE("hostile seekable LZ4: a seek table that lies / the chunks found by their frames / its checksums named") {
  test::BufferSpace source;
  for (uint64_t at = 0; at < 0x10000; at += 8) source.put_u64(at, at * 0x9e3779b97f4a7c15ull);
  test::TempFile good("hostile-lz4s");
  Lz4WriteOptions options;
  options.chunk_size = 4096;
  options.threads = 1;
  write_lz4_seekable(source, good.path(), options);
  std::string bytes = read_all(good.path());
  auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(good.path()));
  REQUIRE(layer->warnings().empty());
  const uint64_t table = layer->frame_offset(layer->chunk_count()) + lz4s::kSkippableHeaderSize;
  test::TempFile bad("hostile-lz4s-bad");

  // Changes the first two entries' sizes by these amounts and makes the
  // table's CRC match again.
  auto lie_about_sizes = [&](int32_t first_delta, int32_t second_delta) {
    uint32_t size0 = 0, size1 = 0;
    std::memcpy(&size0, bytes.data() + table, 4);
    std::memcpy(&size1, bytes.data() + table + lz4s::kSeekEntrySize, 4);
    size0 += static_cast<uint32_t>(first_delta);
    size1 += static_cast<uint32_t>(second_delta);
    std::memcpy(bytes.data() + table, &size0, 4);
    std::memcpy(bytes.data() + table + lz4s::kSeekEntrySize, &size1, 4);
    const uint64_t entries = layer->chunk_count() * lz4s::kSeekEntrySize;
    uint32_t crc = lz4s::crc32(reinterpret_cast<const uint8_t*>(bytes.data() + table), entries);
    std::memcpy(bytes.data() + bytes.size() - lz4s::kFooterSize + 12, &crc, 4);
    bad.write(bytes);
  };
  std::vector<uint8_t> want(0x10000);
  REQUIRE(source.read(0, want.data(), want.size()).ok());

  SECTION("entry sizes that do not add up (the table's CRC made to match): the frames are walked instead") {
    lie_about_sizes(16, 0);
    auto lied = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(bad.path()));
    REQUIRE(lied->warnings().size() == 1);
    CHECK_THAT(lied->warnings()[0], Catch::Contains("seek table cannot be used"));
    std::vector<uint8_t> got(0x10000);
    REQUIRE(lied->read(0, got.data(), got.size()).ok());
    CHECK(got == want);
  }
  SECTION("entry sizes that lie but add up: the two chunks fail naming themselves / the others read right") {
    lie_about_sizes(16, -16);
    auto lied = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(bad.path()));
    uint8_t byte = 0;
    IoResult first = lied->read(0x10, &byte, 1);
    REQUIRE_FALSE(first.ok());
    CHECK_THAT(first.fault->message(), Catch::Contains("chunk 0"));
    IoResult second = lied->read(0x1010, &byte, 1);
    REQUIRE_FALSE(second.ok());
    CHECK_THAT(second.fault->message(), Catch::Contains("chunk 1"));
    std::vector<uint8_t> got(0x10000 - 0x2000);
    REQUIRE(lied->read(0x2000, got.data(), got.size()).ok());
    CHECK(std::equal(got.begin(), got.end(), want.begin() + 0x2000));
  }
  SECTION("a chunk count near 2^64 in the footer") {
    const uint64_t huge = ~uint64_t{0} / 2;
    std::memcpy(bytes.data() + bytes.size() - lz4s::kFooterSize, &huge, 8);
    bad.write(bytes);
    auto lied = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(bad.path()));
    CHECK_THAT(lied->warnings()[0], Catch::Contains("footer"));
    CHECK(lied->chunk_count() == layer->chunk_count());  // from the frames, not the footer
  }
}

TEST_CASE("hostile plain LZ4: a block size that lies / the blocks before it read, a warning names the offset") {
  // One frame, independent 64 KiB blocks, stored uncompressed: easy to
  // damage at a known place.
  // FLG: version 1, independent blocks; BD: 64 KiB; HC: the descriptor's
  // XXH32, second byte.
  const uint8_t descriptor[2] = {0x60, 0x40};
  const auto hc = static_cast<uint8_t>((XXH32(descriptor, 2, 0) >> 8) & 0xff);
  std::vector<uint8_t> bytes = {0x04, 0x22, 0x4d, 0x18, 0x60, 0x40, hc};
  std::vector<uint8_t> block = pattern(0x10000, 9);
  for (int i = 0; i < 3; ++i) {
    append(bytes, uint32_t{0x80000000u | 0x10000});
    bytes.insert(bytes.end(), block.begin(), block.end());
  }
  append(bytes, uint32_t{0});
  test::TempFile file("hostile-lz4");
  file.write(bytes);
  auto good = open_image(file.path());
  REQUIRE(good->limit() == 3 * 0x10000);
  // The second block's size field says 4 GiB - 1.
  const uint32_t lie = 0xffffffffu;
  std::memcpy(bytes.data() + 7 + 4 + 0x10000, &lie, 4);
  file.write(bytes);
  auto lied = open_image(file.path());
  REQUIRE_FALSE(lied->warnings().empty());
  CHECK_THAT(lied->warnings()[0], Catch::Contains("exceeds the frame's") && Catch::Contains(hex(7 + 4 + 0x10000)));
  CHECK(lied->limit() == 0x10000);
  CHECK(lied->read_value<uint8_t>(0xffff) == block[0xffff]);
}

TEST_CASE("hostile profiles: a field outside its struct, a type that does not exist, a symbol given twice / refused "
          "naming it") {
  const std::string head = R"({"metadata": {"format": "6.2.0", "producer": {"name": "t", "version": "1"}},
    "base_types": {"int": {"size": 4, "signed": true, "kind": "int", "endian": "little"},
                   "pointer": {"size": 8, "signed": false, "kind": "int", "endian": "little"}},
    "enums": {},)";
  auto parse = [&](const std::string& user_types, const std::string& symbols) {
    return parse_isf_text(head + R"("user_types": )" + user_types + R"(, "symbols": )" + symbols + "}", "lie.json");
  };
  const std::string ok_symbols = R"({"init_task": {"address": 4096}})";
  CHECK_NOTHROW(parse(R"({"s": {"kind": "struct", "size": 8, "fields": {
      "a": {"offset": 4, "type": {"kind": "base", "name": "int"}},
      "p": {"offset": 0, "type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "opaque"}}}}}})",
                      ok_symbols));
  CHECK_THROWS_WITH(parse(R"({"s": {"kind": "struct", "size": 8, "fields": {
      "a": {"offset": 6, "type": {"kind": "base", "name": "int"}}}}})", ok_symbols),
                    Catch::Contains("lie.json") && Catch::Contains("member 'a'") && Catch::Contains("outside"));
  CHECK_THROWS_WITH(parse(R"({"s": {"kind": "struct", "size": 4, "fields": {
      "b": {"offset": 0, "type": {"kind": "bitfield", "bit_position": 30, "bit_length": 4,
                                   "type": {"kind": "base", "name": "int"}}}}}})", ok_symbols),
                    Catch::Contains("member 'b'") && Catch::Contains("bits 30-33"));
  CHECK_THROWS_WITH(parse(R"({"s": {"kind": "struct", "size": 16, "fields": {
      "m": {"offset": 0, "type": {"kind": "struct", "name": "missing"}}}}})", ok_symbols),
                    Catch::Contains("member 'm'") && Catch::Contains("'missing'") && Catch::Contains("does not define"));
  // A symbol given twice: JSON keys repeated in the file.
  CHECK_THROWS_WITH(parse(R"({})", R"({"init_task": {"address": 4096}, "init_task": {"address": 8192}})"),
                    Catch::Contains("init_task") && Catch::Contains("twice"));
}

TEST_CASE("hostile profile cache: an entry that lies about its tables or its source / rebuilt from the source with "
          "a warning") {
  const std::string isf = R"({"metadata": {"format": "6.2.0", "producer": {"name": "t", "version": "1"}},
    "base_types": {"int": {"size": 4, "signed": true, "kind": "int", "endian": "little"}},
    "user_types": {"s": {"kind": "struct", "size": 8, "fields": {"a": {"offset": 4, "type": {"kind": "base", "name": "int"}}}}},
    "enums": {}, "symbols": {"init_task": {"address": 4096}}})";
  test::TempDir dir("hostile-cache");
  test::TempFile source("hostile-cache.json");
  source.write(isf);
  LoadOptions options;
  options.cache_dir = dir.path();
  std::vector<std::string> warnings;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  auto first = load_profile(source.path(), options);
  ProfileCache cache(dir.path());
  const std::string entry = cache.entry_path(source_key(source.path()));
  REQUIRE(std::filesystem::exists(entry));
  std::string bytes = read_all(entry);
  SECTION("a header that lies (its checksum no longer holds)") {
    for (size_t i = 64; i < 72 && i < bytes.size(); ++i) bytes[i] = '\xff';
  }
  SECTION("an entry recording another source") {
    const std::string path = std::filesystem::absolute(source.path()).lexically_normal().string();
    size_t at = bytes.find(path);
    REQUIRE(at != std::string::npos);
    bytes[at + path.size() - 1] ^= 1;
  }
  {
    std::ofstream out(entry, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  auto again = load_profile(source.path(), options);
  REQUIRE(again->find_type("s"));
  CHECK(again->offset_of("s", "a") == 4);
  REQUIRE_FALSE(warnings.empty());
  CHECK_THAT(warnings.back(), Catch::Contains(entry));
}
