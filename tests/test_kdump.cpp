// kdump-compressed dumps: the four real ones of the fixture guest (QEMU's
// flattened zlib, LZO and Snappy, makedumpfile's seekable zlib), and dumps
// written by the test-side writer for every codec, layout and header
// version, and for excluded, split, incomplete, truncated and corrupt dumps.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "core/layers/chunk_cache.h"
#include "core/layers/format_registry.h"
#include "core/session/session.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/kdump/kdump.h"
#include "formats/kdump/kdump_format.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/kdump_writer.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

constexpr uint64_t kPage = 4096;

// A small machine: two RAM ranges with a hole, zero pages (shared), text,
// incompressible pages (stored), and VMCOREINFO and a CPU note.
void fill_machine(test::BufferSpace& space) {
  std::mt19937_64 rng(12);
  auto fill = [&](uint64_t start, uint64_t size, int kind) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
      bytes[i] = kind == 0 ? 0 : kind == 1 ? static_cast<uint8_t>("memscope kdump "[i % 15]) : static_cast<uint8_t>(rng());
    space.put(start, bytes.data(), bytes.size());
  };
  fill(0x0, 0x20000, 1);
  fill(0x20000, 0x8000, 2);
  space.map(0x28000, 0x38000);  // zeros
  fill(0x60000, 0x20000, 1);
  fill(0x200000, 0x10000, 2);   // after a hole
  fill(0x210000, 0x30000, 1);
  space.mutable_notes().set_vmcoreinfo("OSRELEASE=6.1.0-kdump-test\nPAGESIZE=4096\nNUMBER(phys_base)=-727711744\n");
  CpuState cpu;
  cpu.cr0 = 0x80050033;
  cpu.cr3 = 0x2a10000;
  cpu.cr4 = 0x3606f0;
  space.mutable_notes().cpus.push_back(cpu);
  cpu.index = 1;
  cpu.cr3 = 0x5f8a000;
  space.mutable_notes().cpus.push_back(cpu);
}

std::vector<Range> ranges_of(const AddressSpace& space) {
  std::vector<Range> out;
  space.ranges([&](const Range& r) {
    out.push_back(r);
    return true;
  });
  return out;
}

// Every byte `expected` maps reads the same from `layer`.
void require_same_bytes(AddressSpace& expected, AddressSpace& layer) {
  std::vector<uint8_t> a, b;
  for (const Range& r : ranges_of(expected)) {
    for (uint64_t at = r.start; at < r.end();) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(r.end() - at, 1 << 20));
      a.resize(n);
      b.resize(n);
      REQUIRE(expected.read(at, a.data(), n).ok());
      IoResult got = layer.read(at, b.data(), n);
      INFO("read at " << hex(at) << ": " << (got.fault ? got.fault->message() : "ok"));
      REQUIRE(got.ok());
      if (std::memcmp(a.data(), b.data(), n) != 0) {
        size_t i = 0;
        while (a[i] == b[i]) ++i;
        FAIL("bytes differ at physical " << hex(at + i));
      }
      at += n;
    }
  }
}

std::string describe_value(const PhysicalLayer& layer, const std::string& key) {
  for (const auto& [k, v] : layer.describe())
    if (k == key) return v;
  return "";
}

std::unique_ptr<KdumpLayer> open_kdump(const std::string& path) {
  auto layer = open_image(path);
  REQUIRE(layer->format() == "kdump");
  return std::unique_ptr<KdumpLayer>(static_cast<KdumpLayer*>(layer.release()));
}

std::string error_of(const std::string& path) {
  try {
    open_image(path);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(opened)";
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

void put32(std::string& s, size_t at, uint32_t v) { std::memcpy(s.data() + at, &v, 4); }
void put64(std::string& s, size_t at, uint64_t v) { std::memcpy(s.data() + at, &v, 8); }

const char* codec_label(uint32_t codec) {
  switch (codec) {
    case kdump::kCompressedZlib: return "zlib";
    case kdump::kCompressedLzo: return "lzo";
    case kdump::kCompressedSnappy: return "snappy";
    case kdump::kCompressedZstd: return "zstd";
    default: return "none (pages stored)";
  }
}

}  // namespace

TEST_CASE("kdump fixtures: every variant reads the raw image's bytes / names its layout and codec") {
  auto raw = open_image(test::fixture("image.raw"));
  auto lime = open_image(test::fixture("image.lime"));
  const nlohmann::json& truth = test::truth();
  struct Variant {
    const char* name;
    const char* layout;
    const char* codec;
  };
  for (const Variant& v : {Variant{"image.kdump-zlib", "flattened", "zlib"},
                           Variant{"image.kdump-raw-zlib", "seekable", "zlib"},
                           Variant{"image.kdump-lzo", "flattened", "lzo"},
                           Variant{"image.kdump-snappy", "flattened", "snappy"}}) {
    SECTION(v.name) {
      auto kdump = open_kdump(test::fixture(v.name));
      CHECK(describe_value(*kdump, "kdump layout").rfind(v.layout, 0) == 0);
      CHECK(describe_value(*kdump, "page codec") == v.codec);
      CHECK(kdump->warnings().empty());
      // The same RAM as the LiME image (both hold QEMU's ranges, BIOS ROM included).
      CHECK(ranges_of(*kdump) == ranges_of(*lime));
      require_same_bytes(*raw, *kdump);
      require_same_bytes(*lime, *kdump);
      const ImageNotes& notes = kdump->notes();
      REQUIRE(notes.vmcoreinfo_keys.count("OSRELEASE"));
      CHECK(notes.vmcoreinfo_keys.at("OSRELEASE") == truth.at("kernel_release").get<std::string>());
      const nlohmann::json& registers = truth.at("vm").at("registers_at_dump");
      REQUIRE(notes.cpus.size() == registers.size());
      for (const nlohmann::json& cpu : registers) {
        size_t index = cpu.at("cpu").get<size_t>();
        REQUIRE(index < notes.cpus.size());
        CHECK(notes.cpus[index].cr3 == parse_u64(cpu.at("CR3").get<std::string>(), "CR3"));
      }
    }
  }
}

TEST_CASE("kdump fixtures: the kernel is found through VMCOREINFO / not the sub-header's phys_base") {
  const nlohmann::json& truth = test::truth();
  for (const char* name : {"image.kdump-zlib", "image.kdump-raw-zlib", "image.kdump-lzo", "image.kdump-snappy"}) {
    SECTION(name) {
      SessionOptions options;
      options.image = test::fixture(name);
      Session session(options);
      const LinuxKernelInfo& kernel = session.kernel();
      CHECK(kernel.os_release == truth.at("kernel_release").get<std::string>());
      CHECK(kernel.virtual_shift == parse_u64(truth.at("kaslr_offset").get<std::string>(), "kaslr_offset"));
      // The sub-header's phys_base is not the kernel's (the fixture's README
      // says so); describe() says which one counts.
      CHECK(describe_value(session.image(), "phys_base (sub-header)").find("which is the one used") !=
            std::string::npos);
    }
  }
}

TEST_CASE("kdump writer round trip: every codec and layout reads back the source") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  for (uint32_t codec : {0u, kdump::kCompressedZlib, kdump::kCompressedLzo, kdump::kCompressedSnappy,
                         kdump::kCompressedZstd}) {
    for (bool flattened : {false, true}) {
      DYNAMIC_SECTION(codec_label(codec) << (flattened ? " flattened" : " seekable")) {
        std::string path = dir.file("dump");
        test::KdumpWriteOptions options;
        options.codec = codec;
        options.flattened = flattened;
        options.record_size = 3000;  // records that cut pages in two
        test::write_kdump(source, path, options);
        auto kdump = open_kdump(path);
        CHECK(ranges_of(*kdump) == ranges_of(source));
        require_same_bytes(source, *kdump);
        CHECK(kdump->codec() == codec_label(codec));
        CHECK(kdump->flattened() == flattened);
        CHECK(kdump->notes().vmcoreinfo == source.notes().vmcoreinfo);
        REQUIRE(kdump->notes().cpus.size() == 2);
        CHECK(kdump->notes().cpus[1].cr3 == source.notes().cpus[1].cr3);
        // A hole reads as an error, or as zeros for a scanner.
        uint8_t byte = 0xff;
        IoResult hole = kdump->read(0x100000, &byte, 1);
        REQUIRE(hole.fault);
        CHECK(hole.fault->reason == "physical address not in the image");
        CHECK(kdump->read(0x100000, &byte, 1, kReadPad).ok());
        CHECK(byte == 0);
      }
    }
  }
}

TEST_CASE("kdump header versions 1 to 6: each reads / VMCOREINFO from version 3 and notes from version 4") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  for (int version = 1; version <= 6; ++version) {
    DYNAMIC_SECTION("version " << version) {
      test::KdumpWriteOptions options;
      options.header_version = version;
      options.codec = kdump::kCompressedZlib;
      test::write_kdump(source, dir.file("dump"), options);
      auto kdump = open_kdump(dir.file("dump"));
      CHECK(kdump->header_version() == version);
      require_same_bytes(source, *kdump);
      CHECK(kdump->notes().vmcoreinfo_keys.count("OSRELEASE") == (version >= 3 ? 1u : 0u));
      CHECK(kdump->notes().cpus.size() == (version >= 4 ? 2u : 0u));
    }
  }
}

TEST_CASE("kdump: excluded pages read as an error naming the page / zeros with kReadPad / not in ranges") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.dump_level = 31;
  options.exclude = [](uint64_t pfn) { return pfn == 0x5 || (pfn >= 0x210 && pfn < 0x218); };
  test::write_kdump(source, dir.file("dump"), options);
  auto kdump = open_kdump(dir.file("dump"));
  CHECK(kdump->excluded_pages() == 9);
  CHECK(kdump->page_state(0x5) == KdumpLayer::PageState::kExcluded);
  std::vector<uint8_t> buffer(3 * kPage, 0xff);
  IoResult r = kdump->read(0x4000, buffer.data(), buffer.size());
  CHECK(r.done == kPage);
  REQUIRE(r.fault);
  CHECK(r.fault->address == 0x5000);
  CHECK(r.fault->reason.find("page 0x5000 (pfn 0x5) is RAM that makedumpfile excluded") != std::string::npos);
  CHECK(r.fault->reason.find("dump level 31") != std::string::npos);
  r = kdump->read(0x4000, buffer.data(), buffer.size(), kReadPad);
  CHECK(r.ok());
  CHECK(std::all_of(buffer.begin() + kPage, buffer.begin() + 2 * kPage, [](uint8_t b) { return b == 0; }));
  std::vector<Range> expected = {{0x0, 0x5000}, {0x6000, 0x7a000}, {0x200000, 0x10000}, {0x218000, 0x28000}};
  CHECK(ranges_of(*kdump) == expected);
  // The pages around them are intact.
  std::vector<uint8_t> want(kPage), got(kPage);
  for (uint64_t at : {0x4000ull, 0x6000ull, 0x20f000ull, 0x218000ull}) {
    REQUIRE(source.read(at, want.data(), kPage).ok());
    REQUIRE(kdump->read(at, got.data(), kPage).ok());
    CHECK(want == got);
  }
}

TEST_CASE("kdump: a split dump serves its own pfns and names the others") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.split = std::make_pair(uint64_t{0x30}, uint64_t{0x205});
  test::write_kdump(source, dir.file("part"), options);
  auto kdump = open_kdump(dir.file("part"));
  std::vector<Range> expected = {{0x30000, 0x50000}, {0x200000, 0x5000}};
  CHECK(ranges_of(*kdump) == expected);
  uint8_t byte;
  IoResult r = kdump->read(0x2000, &byte, 1);
  REQUIRE(r.fault);
  CHECK(r.fault->reason.find("another file of this split dump") != std::string::npos);
  CHECK(r.fault->reason.find("0x30-0x205") != std::string::npos);
  std::vector<uint8_t> want(kPage), got(kPage);
  REQUIRE(source.read(0x204000, want.data(), kPage).ok());
  REQUIRE(kdump->read(0x204000, got.data(), kPage).ok());
  CHECK(want == got);
}

TEST_CASE("kdump: an incomplete dump opens with a warning and serves what it holds") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.written_pages = 150;  // of 192 dumped pages
  test::write_kdump(source, dir.file("dump"), options);
  auto kdump = open_kdump(dir.file("dump"));
  REQUIRE(kdump->warnings().size() == 1);
  CHECK(kdump->warnings()[0].find("incomplete dump") != std::string::npos);
  CHECK(kdump->warnings()[0].find("42 of 192 dumped pages") != std::string::npos);
  CHECK(kdump->absent_pages() == 42);
  // Pages 0-0x7f, then 0x200-0x215 were written; the rest was not.
  std::vector<Range> expected = {{0x0, 0x80000}, {0x200000, 0x16000}};
  CHECK(ranges_of(*kdump) == expected);
  uint8_t byte;
  IoResult r = kdump->read(0x216000, &byte, 1);
  REQUIRE(r.fault);
  CHECK(r.fault->reason.find("page 0x216000 (pfn 0x216) was never written") != std::string::npos);
  std::vector<uint8_t> want(kPage), got(kPage);
  REQUIRE(source.read(0x215000, want.data(), kPage).ok());
  REQUIRE(kdump->read(0x215000, got.data(), kPage).ok());
  CHECK(want == got);
  CHECK(describe_value(*kdump, "warning").find("incomplete") != std::string::npos);
}

TEST_CASE("kdump: a truncated dump opens with a warning / the pages before the cut still read") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  for (bool flattened : {false, true}) {
    DYNAMIC_SECTION((flattened ? "flattened" : "seekable")) {
      test::KdumpWriteOptions options;
      options.flattened = flattened;
      options.codec = kdump::kCompressedSnappy;
      test::KdumpLayout layout = test::write_kdump(source, dir.file("dump"), options);
      std::string bytes = read_bytes(dir.file("dump"));
      bytes.resize(bytes.size() - bytes.size() / 10);
      write_bytes(dir.file("cut"), bytes);
      auto kdump = open_kdump(dir.file("cut"));
      REQUIRE_FALSE(kdump->warnings().empty());
      bool said_truncated = false;
      for (const std::string& w : kdump->warnings()) said_truncated |= w.find("truncated") != std::string::npos;
      CHECK(said_truncated);
      CHECK(kdump->absent_pages() > 0);
      CHECK(kdump->absent_pages() < layout.dumped_pages);
      // Everything still mapped reads the source's bytes; the lost pages fault.
      std::vector<uint8_t> want(kPage), got(kPage);
      for (const Range& r : ranges_of(*kdump))
        for (uint64_t at = r.start; at < r.end(); at += kPage) {
          REQUIRE(source.read(at, want.data(), kPage).ok());
          REQUIRE(kdump->read(at, got.data(), kPage).ok());
          REQUIRE(want == got);
        }
      uint8_t byte;
      IoResult r = kdump->read(0x23f000, &byte, 1);
      REQUIRE(r.fault);
      CHECK(r.fault->reason.find("never written") != std::string::npos);
    }
  }
}

TEST_CASE("kdump: a corrupt page is an error naming the page and the file offset / its neighbours still read") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  for (uint32_t codec : {kdump::kCompressedZlib, kdump::kCompressedLzo, kdump::kCompressedSnappy,
                         kdump::kCompressedZstd}) {
    DYNAMIC_SECTION(codec_label(codec)) {
      test::KdumpWriteOptions options;
      options.codec = codec;
      test::KdumpLayout layout = test::write_kdump(source, dir.file("dump"), options);
      const uint64_t pfn = 0x62;  // a text page, compressed, in the middle of a 16-page group
      REQUIRE(layout.page_data.count(pfn));
      auto [offset, size] = layout.page_data.at(pfn);
      std::string bytes = read_bytes(dir.file("dump"));
      for (uint32_t i = 0; i < size; ++i) bytes[offset + i] = static_cast<char>(0xa5 ^ i);
      write_bytes(dir.file("bad"), bytes);
      auto kdump = open_kdump(dir.file("bad"));
      std::vector<uint8_t> got(kPage), want(kPage);
      IoResult r = kdump->read(pfn * kPage + 8, got.data(), 16);
      REQUIRE(r.fault);
      CHECK(r.fault->address == pfn * kPage + 8);
      CHECK(r.fault->reason.find("page at physical 0x62000 (pfn 0x62)") != std::string::npos);
      CHECK(r.fault->reason.find("file offset " + hex(offset)) != std::string::npos);
      CHECK(r.fault->reason.find(codec_label(codec)) != std::string::npos);
      for (uint64_t other : {pfn - 1, pfn + 1, pfn - 0x20}) {
        REQUIRE(source.read(other * kPage, want.data(), kPage).ok());
        IoResult ok = kdump->read(other * kPage, got.data(), kPage);
        INFO("pfn " << hex(other) << ": " << (ok.fault ? ok.fault->message() : "ok"));
        REQUIRE(ok.ok());
        CHECK(want == got);
      }
      // A scanner gets zeros there and one fault, and the rest of its chunk.
      std::vector<uint8_t> chunk(0x10000);
      IoResult scan = kdump->scan_read(0x60000, chunk.data(), chunk.size());
      CHECK(scan.done == chunk.size());
      REQUIRE(scan.fault);
      CHECK(scan.fault->address == pfn * kPage);
      REQUIRE(source.read(0x63000, want.data(), kPage).ok());
      CHECK(std::memcmp(chunk.data() + 0x3000, want.data(), kPage) == 0);
    }
  }
}

TEST_CASE("kdump flattened: records out of order and rewritten ones read as the last write") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.flattened = true;
  options.header_last = true;
  options.stale_header_first = true;  // a header with a bad block size, overwritten later
  test::write_kdump(source, dir.file("dump"), options);
  auto kdump = open_kdump(dir.file("dump"));
  CHECK(kdump->warnings().empty());
  require_same_bytes(source, *kdump);
}

TEST_CASE("kdump: broken headers are refused naming the format and the field") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::write_kdump(source, dir.file("good"), {});
  const std::string good = read_bytes(dir.file("good"));
  using namespace kdump;
  struct Case {
    const char* field;
    std::function<void(std::string&)> damage;
  };
  std::vector<Case> cases = {
      {"disk_dump_header.header_version", [](std::string& b) { put32(b, header::kHeaderVersion, 7); }},
      {"disk_dump_header.header_version", [](std::string& b) { put32(b, header::kHeaderVersion, 0); }},
      {"disk_dump_header.block_size", [](std::string& b) { put32(b, header::kBlockSize, 12345); }},
      {"disk_dump_header.block_size", [](std::string& b) { put32(b, header::kBlockSize, 0x80000000u); }},
      {"disk_dump_header.sub_hdr_size", [](std::string& b) { put32(b, header::kSubHdrSize, 0); }},
      {"disk_dump_header.sub_hdr_size", [](std::string& b) { put32(b, header::kSubHdrSize, 0x7fffffff); }},
      {"disk_dump_header.bitmap_blocks", [](std::string& b) { put32(b, header::kBitmapBlocks, 3); }},
      {"disk_dump_header.bitmap_blocks", [](std::string& b) { put32(b, header::kBitmapBlocks, 0); }},
      {"kdump_sub_header.max_mapnr_64", [](std::string& b) { put64(b, kPage + sub_header::kMaxMapnr64, 1ull << 40); }},
      {"bitmaps", [](std::string& b) { put32(b, header::kBitmapBlocks, 0x100000); }},
      {"disk_dump_header.utsname.machine", [](std::string& b) { std::memcpy(b.data() + header::kUtsMachine, "i686\0", 5); }},
      {"kdump_sub_header.start_pfn_64/end_pfn_64", [](std::string& b) {
         put32(b, kPage + sub_header::kSplit, 1);
         put64(b, kPage + sub_header::kStartPfn64, 0x300);
         put64(b, kPage + sub_header::kEndPfn64, 0x100);
       }},
      {"disk_dump_header: the file holds fewer", [](std::string& b) { b.resize(100); }},
      {"disk_dump_header.signature is \"DISKDUMP\"", [](std::string& b) { std::memcpy(b.data(), "DISKDUMP", 8); }},
  };
  for (const Case& c : cases) {
    std::string bytes = good;
    c.damage(bytes);
    write_bytes(dir.file("bad"), bytes);
    std::string error = error_of(dir.file("bad"));
    INFO(c.field << ": " << error);
    CHECK(error.find(dir.file("bad") + ": kdump: " + c.field) != std::string::npos);
  }
}

TEST_CASE("kdump flattened: a broken stream header is refused naming the field / a truncated stream warns") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.flattened = true;
  test::write_kdump(source, dir.file("good"), options);
  const std::string good = read_bytes(dir.file("good"));
  std::string bytes = good;
  bytes[0x17] = 2;  // type = 2
  write_bytes(dir.file("bad"), bytes);
  CHECK(error_of(dir.file("bad")).find("flattened kdump (makedumpfile): header field type") != std::string::npos);
  bytes = good;
  bytes[0x1f] = 9;  // version = 9
  write_bytes(dir.file("bad"), bytes);
  CHECK(error_of(dir.file("bad")).find("header field version") != std::string::npos);
  write_bytes(dir.file("bad"), good.substr(0, 2000));
  CHECK(error_of(dir.file("bad")).find("stream header is cut short") != std::string::npos);
  // A stream cut in its page data: a warning, the rest readable.
  write_bytes(dir.file("cut"), good.substr(0, good.size() - 20000));
  auto kdump = open_kdump(dir.file("cut"));
  REQUIRE(kdump->warnings().size() >= 2);
  CHECK(kdump->warnings()[0].find("truncated?") != std::string::npos);
  std::vector<uint8_t> want(kPage), got(kPage);
  REQUIRE(source.read(0, want.data(), kPage).ok());
  REQUIRE(kdump->read(0, got.data(), kPage).ok());
  CHECK(want == got);
}

TEST_CASE("kdump: hostile descriptors give errors naming the page / never a crash") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpLayout layout = test::write_kdump(source, dir.file("good"), {});
  const std::string good = read_bytes(dir.file("good"));
  using namespace kdump;
  const uint64_t index = 3;  // pfn 3's descriptor
  const size_t at = layout.desc_offset + index * page_desc::kSize;
  struct Case {
    const char* expect;
    std::function<void(std::string&)> damage;
  };
  std::vector<Case> cases = {
      {"gives its data a size of 0 bytes", [&](std::string& b) { put32(b, at + page_desc::kDataSize, 0); }},
      {"gives its data a size of 999999 bytes", [&](std::string& b) { put32(b, at + page_desc::kDataSize, 999999); }},
      {"has flags 0x3", [&](std::string& b) { put32(b, at + page_desc::kFlags, 3); }},
      {"run past the end of the file", [&](std::string& b) { put64(b, at + page_desc::kOffset, ~0ull - 10); }},
      {"must hold 4096 bytes", [&](std::string& b) {
         put32(b, at + page_desc::kFlags, 0);
         put32(b, at + page_desc::kDataSize, 100);
       }},
  };
  for (const Case& c : cases) {
    std::string bytes = good;
    c.damage(bytes);
    write_bytes(dir.file("bad"), bytes);
    auto kdump = open_kdump(dir.file("bad"));
    std::vector<uint8_t> got(kPage);
    IoResult r = kdump->read(3 * kPage, got.data(), kPage);
    INFO(c.expect << ": " << (r.fault ? r.fault->reason : "ok"));
    REQUIRE(r.fault);
    CHECK(r.fault->reason.find("page at physical 0x3000 (pfn 0x3)") != std::string::npos);
    CHECK(r.fault->reason.find(c.expect) != std::string::npos);
    REQUIRE(kdump->read(4 * kPage, got.data(), kPage).ok());
  }
}

TEST_CASE("kdump: random corruption of the headers and tables is refused or read safely") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  for (bool flattened : {false, true}) {
    test::KdumpWriteOptions options;
    options.flattened = flattened;
    test::KdumpLayout layout = test::write_kdump(source, dir.file("good"), options);
    const std::string good = read_bytes(dir.file("good"));
    std::mt19937_64 rng(flattened ? 5 : 6);
    const uint64_t span = flattened ? good.size() : layout.data_offset + 64;
    for (int round = 0; round < 150; ++round) {
      std::string bytes = good;
      for (int i = 0; i < 4; ++i) bytes[rng() % span] = static_cast<char>(rng());
      write_bytes(dir.file("bad"), bytes);
      std::unique_ptr<PhysicalLayer> layer;
      try {
        layer = open_image(dir.file("bad"));
      } catch (const FormatError& e) {
        CHECK(std::string(e.what()).find(dir.file("bad")) == 0);
        continue;
      }
      std::vector<uint8_t> buffer(64 << 10);
      for (const Range& r : ranges_of(*layer))
        for (uint64_t a = r.start; a < r.end(); a += buffer.size()) {
          size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), r.end() - a));
          IoResult got = layer->read(a, buffer.data(), n);
          if (got.fault) CHECK_FALSE(got.fault->reason.empty());
        }
    }
  }
}

TEST_CASE("kdump: extents mark the shared zero page / skip excluded pages / scan_read matches read") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.exclude = [](uint64_t pfn) { return pfn == 0x61; };
  test::write_kdump(source, dir.file("dump"), options);
  auto kdump = open_kdump(dir.file("dump"));
  uint64_t zero_bytes = 0, total = 0;
  std::vector<PhysicalExtent> extents;
  kdump->extents(0, ~uint64_t{0}, [&](const PhysicalExtent& e) {
    extents.push_back(e);
    total += e.size;
    if (e.kind == ExtentKind::kZero) zero_bytes += e.size;
    return true;
  });
  uint64_t mapped = 0;
  for (const Range& r : ranges_of(*kdump)) mapped += r.size;
  CHECK(total == mapped);
  CHECK(zero_bytes == 0x38000);
  for (const PhysicalExtent& e : extents) CHECK_FALSE((e.start <= 0x61000 && 0x61000 < e.end()));
  // Clipped to the asked window, not page-aligned.
  std::vector<PhysicalExtent> window;
  kdump->extents(0x27ff0, 0x28010, [&](const PhysicalExtent& e) {
    window.push_back(e);
    return true;
  });
  REQUIRE(window.size() == 2);
  CHECK(window[0].start == 0x27ff0);
  CHECK(window[0].kind == ExtentKind::kStored);
  CHECK(window[1].end() == 0x28010);
  CHECK(window[1].kind == ExtentKind::kZero);

  std::vector<uint8_t> a(0x90000), b(0x90000);
  REQUIRE(kdump->read(0, a.data(), a.size(), kReadPad).ok());
  IoResult s = kdump->scan_read(0, b.data(), b.size());
  CHECK(s.ok());
  CHECK(a == b);
}

TEST_CASE("kdump: concurrent readers see the right bytes") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.flattened = true;
  options.codec = kdump::kCompressedLzo;
  test::write_kdump(source, dir.file("dump"), options);
  ChunkCache small(64 << 10);  // room for one group: constant eviction
  auto kdump = KdumpLayer::open(std::make_shared<const MappedFile>(dir.file("dump")), small);
  std::vector<Range> ranges = ranges_of(source);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> want(512), got(512);
      for (int i = 0; i < 3000; ++i) {
        const Range& r = ranges[rng() % ranges.size()];
        uint64_t at = r.start + rng() % (r.size - want.size());
        if (!source.read(at, want.data(), want.size()).ok() || !kdump->read(at, got.data(), got.size()).ok() ||
            want != got)
          ++bad;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
}

TEST_CASE("kdump: peek gives stored pages from the mapping / nothing for compressed pages") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("kdump");
  test::KdumpWriteOptions options;
  options.codec = kdump::kCompressedZstd;
  test::write_kdump(source, dir.file("dump"), options);
  auto kdump = open_kdump(dir.file("dump"));
  // Random pages do not shrink: stored as they are.
  const uint8_t* p = kdump->peek(0x20010, 16);
  REQUIRE(p != nullptr);
  std::vector<uint8_t> want(16);
  REQUIRE(source.read(0x20010, want.data(), 16).ok());
  CHECK(std::memcmp(p, want.data(), 16) == 0);
  CHECK(kdump->peek(0x1000, 16) == nullptr);      // compressed
  CHECK(kdump->peek(0x20ff8, 16) == nullptr);     // crosses a page
  CHECK(kdump->peek(0x100000, 16) == nullptr);    // hole
}
