// AVML compressed images, written by the test-side writer (no AVML binary is
// installed here) from synthetic machines and from the fixture guest.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstring>
#include <fstream>
#include <random>
#include <thread>

#include "core/layers/chunk_cache.h"
#include "core/layers/format_registry.h"
#include "core/session/session.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "formats/avml/avml.h"
#include "formats/avml/crc32c.h"
#include "support/avml_writer.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// Two ranges; with 64 KiB blocks: text, random (stored chunks), a zero
// block AVML leaves out, a range whose size is not a multiple of a chunk.
void fill_machine(test::BufferSpace& space) {
  std::mt19937_64 rng(21);
  auto fill = [&](uint64_t start, uint64_t size, int kind) {
    std::vector<uint8_t> bytes(size);
    for (size_t i = 0; i < size; ++i)
      bytes[i] = kind == 0 ? 0 : kind == 1 ? static_cast<uint8_t>("avml block "[i % 11]) : static_cast<uint8_t>(rng());
    space.put(start, bytes.data(), bytes.size());
  };
  fill(0x1000, 0x30000, 1);
  fill(0x31000, 0x10000, 2);
  space.map(0x41000, 0x10000);  // a zero block: left out
  fill(0x51000, 0x25000, 1);
  fill(0x100000, 0x13000, 2);
  space.mutable_notes().set_vmcoreinfo("OSRELEASE=ignored\n");
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
  for (const Range& r : ranges) {
    for (uint64_t at = r.start; at < r.end();) {
      size_t n = static_cast<size_t>(std::min<uint64_t>(r.end() - at, 3 << 20));
      a.resize(n);
      b.resize(n);
      REQUIRE(expected.read(at, a.data(), n, kReadPad).ok());
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

std::unique_ptr<AvmlLayer> open_avml(const std::string& path) {
  auto layer = open_image(path);
  REQUIRE(layer->format() == "avml");
  return std::unique_ptr<AvmlLayer>(static_cast<AvmlLayer*>(layer.release()));
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string error_of(const std::string& path) {
  try {
    open_image(path);
  } catch (const FormatError& e) {
    return e.what();
  }
  return "(opened)";
}

const std::vector<Range> kStoredRanges = {{0x1000, 0x40000}, {0x51000, 0x25000}, {0x100000, 0x13000}};

}  // namespace

TEST_CASE("crc32c: the Castagnoli check value and the masked form") {
  const char* digits = "123456789";
  CHECK(crc32c(reinterpret_cast<const uint8_t*>(digits), 9) == 0xE3069283u);
  std::vector<uint8_t> zeros(32, 0);
  CHECK(crc32c(zeros.data(), zeros.size()) == 0x8A9136AAu);  // RFC 3720 B.4
  CHECK(snappy_masked_crc(0) == 0xa282ead8u);
}

TEST_CASE("avml round trip: blocks / zero blocks left out / bytes across chunk and block edges") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x10000;
  auto layout = test::write_avml(source, dir.file("image.avml"), options);
  auto avml = open_avml(dir.file("image.avml"));
  CHECK(avml->walk() == "backward");
  CHECK(avml->warnings().empty());
  CHECK(avml->block_count() == layout.size());
  CHECK(ranges_of(*avml) == kStoredRanges);
  require_same_bytes(source, *avml, kStoredRanges);
  // A read across chunks and blocks at odd offsets.
  std::vector<uint8_t> a(0x23456), b(0x23456);
  REQUIRE(source.read(0x1234, a.data(), a.size()).ok());
  REQUIRE(avml->read(0x1234, b.data(), b.size()).ok());
  CHECK(a == b);
  // The zero block is a gap: an error, or zeros for a scanner.
  uint8_t byte = 0xff;
  IoResult r = avml->read(0x45000, &byte, 1);
  REQUIRE(r.fault);
  CHECK(r.fault->reason == "physical address not in the image");
  CHECK(avml->read(0x45000, &byte, 1, kReadPad).ok());
  CHECK(byte == 0);
  // scan_read gives what read(kReadPad) gives.
  std::vector<uint8_t> pad(0x120000), scan(0x120000);
  REQUIRE(avml->read(0, pad.data(), pad.size(), kReadPad).ok());
  CHECK(avml->scan_read(0, scan.data(), scan.size()).ok());
  CHECK(pad == scan);
  bool named = false;
  for (const auto& [k, v] : avml->describe()) named |= k == "block codec" && v.find("snappy") == 0;
  CHECK(named);
}

TEST_CASE("avml: a corrupt chunk is an error naming the block and the chunk's file offset / the rest reads") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x20000;
  auto layout = test::write_avml(source, dir.file("good"), options);
  // Block 0 is [0x1000, 0x21000): two chunks; damage the second one's payload.
  REQUIRE(layout[0].chunk_offsets.size() == 2);
  const uint64_t chunk = layout[0].chunk_offsets[1];
  std::string bytes = read_bytes(dir.file("good"));
  bytes[chunk + 40] = static_cast<char>(bytes[chunk + 40] ^ 0x5a);
  write_bytes(dir.file("bad"), bytes);
  auto avml = open_avml(dir.file("bad"));
  std::vector<uint8_t> got(256), want(256);
  IoResult r = avml->read(0x11000 + 100, got.data(), got.size());
  REQUIRE(r.fault);
  CHECK(r.fault->reason.find("avml block 0 (physical 0x1000-0x21000) at file offset 0x0") != std::string::npos);
  CHECK(r.fault->reason.find("Snappy chunk at file offset " + hex(chunk)) != std::string::npos);
  for (uint64_t at : {0x1000ull, 0x10f00ull, 0x21000ull, 0x100000ull}) {
    REQUIRE(source.read(at, want.data(), want.size()).ok());
    REQUIRE(avml->read(at, got.data(), got.size()).ok());
    CHECK(want == got);
  }
  std::vector<uint8_t> scan(0x40000);
  IoResult s = avml->scan_read(0x1000, scan.data(), scan.size());
  CHECK(s.done == scan.size());
  REQUIRE(s.fault);
  CHECK(s.fault->address == 0x11000);
}

TEST_CASE("avml: a truncated acquisition opens with a warning / what it holds still reads") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x40000;
  auto layout = test::write_avml(source, dir.file("good"), options);
  REQUIRE(layout.size() == 3);  // [0x1000,0x41000), [0x41000,0x76000), [0x100000,0x113000)
  std::string bytes = read_bytes(dir.file("good"));
  // Cut inside the second block's third chunk: its first two chunks survive.
  const uint64_t cut = layout[1].chunk_offsets[2] + 100;
  write_bytes(dir.file("cut"), bytes.substr(0, cut));
  auto avml = open_avml(dir.file("cut"));
  CHECK(avml->walk() == "forward");
  REQUIRE(avml->warnings().size() == 1);
  CHECK(avml->warnings()[0].find("avml: block 1 (physical 0x41000-0x76000) at file offset " +
                                 hex(layout[1].header_offset)) != std::string::npos);
  CHECK(avml->warnings()[0].find("truncated") != std::string::npos);
  std::vector<Range> expected = {{0x1000, 0x60000}};
  CHECK(ranges_of(*avml) == expected);
  require_same_bytes(source, *avml, expected);
  uint8_t byte;
  IoResult r = avml->read(0x71000, &byte, 1);
  REQUIRE(r.fault);
  CHECK(r.fault->reason.find("avml block 1") != std::string::npos);
  CHECK(r.fault->reason.find("the file ends before this part of the block") != std::string::npos);
}

TEST_CASE("avml: a damaged length trailer: the file is walked forwards and reads whole") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x40000;
  auto layout = test::write_avml(source, dir.file("good"), options);
  std::string bytes = read_bytes(dir.file("good"));
  const uint64_t trailer = layout[1].stream_offset + layout[1].stream_length;
  bytes[trailer + 3] = 0x7f;
  write_bytes(dir.file("bad"), bytes);
  auto avml = open_avml(dir.file("bad"));
  CHECK(avml->walk() == "forward");
  REQUIRE(avml->warnings().size() == 1);
  CHECK(avml->warnings()[0].find("block 1") != std::string::npos);
  CHECK(avml->warnings()[0].find("length trailer") != std::string::npos);
  // The stream ends where its data does: the walk goes on to the next block.
  CHECK(ranges_of(*avml) == ranges_of(source));
  require_same_bytes(source, *avml, ranges_of(source));
}

TEST_CASE("avml: a broken first header is refused naming the format and the field") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::write_avml(source, dir.file("good"));
  const std::string good = read_bytes(dir.file("good"));
  struct Case {
    const char* field;
    std::function<void(std::string&)> damage;
  };
  std::vector<Case> cases = {
      {"field version is 3", [](std::string& b) { b[4] = 3; }},
      {"field padding is 0x1", [](std::string& b) { b[24] = 1; }},
      {"field end 0x0 is below field start 0x1000", [](std::string& b) { std::memset(b.data() + 16, 0, 8); }},
      {"only 20 bytes left, a header needs 32", [](std::string& b) { b.resize(20); }},
  };
  for (const Case& c : cases) {
    std::string bytes = good;
    c.damage(bytes);
    write_bytes(dir.file("bad"), bytes);
    std::string error = error_of(dir.file("bad"));
    INFO(error);
    CHECK(error.find(dir.file("bad") + ": avml: header at file offset 0x0: " + c.field) != std::string::npos);
  }
}

TEST_CASE("avml: random corruption is refused, warned about or read safely") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x10000;
  test::write_avml(source, dir.file("good"), options);
  const std::string good = read_bytes(dir.file("good"));
  std::mt19937_64 rng(3);
  for (int round = 0; round < 200; ++round) {
    std::string bytes = good;
    for (int i = 0; i < 3; ++i) bytes[rng() % bytes.size()] = static_cast<char>(rng());
    if (round % 5 == 0) bytes.resize(rng() % bytes.size() + 1);
    write_bytes(dir.file("bad"), bytes);
    std::unique_ptr<PhysicalLayer> layer;
    try {
      layer = open_image(dir.file("bad"));
    } catch (const FormatError& e) {
      CHECK(std::string(e.what()).find(dir.file("bad")) == 0);
      continue;
    }
    std::vector<uint8_t> buffer(0x9000);
    for (const Range& r : ranges_of(*layer))
      for (uint64_t a = r.start; a < r.end(); a += buffer.size()) {
        size_t n = static_cast<size_t>(std::min<uint64_t>(buffer.size(), r.end() - a));
        IoResult got = layer->read(a, buffer.data(), n);
        if (got.fault) {
          CHECK_FALSE(got.fault->reason.empty());
        } else if (layer->format() == "avml") {
          // Bytes that read are the source's: CRC-32C guards every chunk.
          std::vector<uint8_t> want(n);
          REQUIRE(source.read(a, want.data(), n, kReadPad).ok());
          CHECK(std::memcmp(want.data(), buffer.data(), n) == 0);
        }
      }
  }
}

TEST_CASE("avml: concurrent readers see the right bytes") {
  test::BufferSpace source;
  fill_machine(source);
  test::TempDir dir("avml");
  test::AvmlWriteOptions options;
  options.block_size = 0x30000;
  test::write_avml(source, dir.file("image"), options);
  ChunkCache small(64 << 10);
  auto avml = AvmlLayer::open(std::make_shared<const MappedFile>(dir.file("image")), small);
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(t);
      std::vector<uint8_t> want(700), got(700);
      for (int i = 0; i < 2000; ++i) {
        const Range& r = kStoredRanges[rng() % kStoredRanges.size()];
        uint64_t at = r.start + rng() % (r.size - want.size());
        if (!source.read(at, want.data(), want.size()).ok() || !avml->read(at, got.data(), got.size()).ok() ||
            want != got)
          ++bad;
      }
    });
  for (auto& t : threads) t.join();
  CHECK(bad == 0);
}

TEST_CASE("avml fixture: the guest written as AVML reads the raw bytes and its kernel is found") {
  auto raw = open_image(test::fixture("image.raw"));
  test::TempDir dir("avml");
  auto layout = test::write_avml(*raw, dir.file("image.avml"));
  auto avml = open_avml(dir.file("image.avml"));
  CHECK(avml->block_count() == layout.size());
  require_same_bytes(*raw, *avml, ranges_of(*avml));
  // Every byte outside the stored blocks is zero in the raw image.
  std::vector<uint8_t> buffer(1 << 20);
  for (uint64_t at = 0; at < raw->limit(); at += buffer.size()) {
    std::vector<uint8_t> mine(buffer.size());
    REQUIRE(raw->read(at, buffer.data(), buffer.size()).ok());
    REQUIRE(avml->read(at, mine.data(), mine.size(), kReadPad).ok());
    REQUIRE(buffer == mine);
  }
  SessionOptions options;
  options.image = dir.file("image.avml");
  Session session(options);
  CHECK(session.kernel().os_release == test::truth().at("kernel_release").get<std::string>());
}
