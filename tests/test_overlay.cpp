#include <catch2/catch.hpp>

#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "core/util/error.h"
#include "core/layers/overlay.h"
#include "core/layers/overlay_file.h"
#include "core/session/session.h"
#include "core/util/file_identity.h"
#include "core/util/sha256.h"
#include "support/buffer_space.h"
#include "support/temp_file.h"

using namespace memscope;
using test::BufferSpace;

namespace {

std::string read_string(AddressSpace& space, uint64_t address, size_t n) {
  std::string out(n, '\0');
  IoResult r = space.read(address, out.data(), n);
  REQUIRE(r.ok());
  return out;
}

// Physical pages 0x1000..0x5000 and 0x10000..0x11000; a hole in between.
void fill(BufferSpace& physical) {
  physical.map(0x1000, 0x4000);
  physical.map(0x10000, 0x1000);
  for (uint64_t page = 0x1000; page < 0x5000; page += 0x1000)
    physical.put_string(page, "page@" + std::to_string(page));
  physical.put_string(0x10000, "far page");
}

const ImageIdentity kImage{"/evidence/host.lime", 0x11000, "sha256:abc"};

}  // namespace

TEST_CASE("overlay: reads see writes / the layer below never changes") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  CHECK(overlay.name() == "overlay");
  CHECK(overlay.below() == &physical);
  CHECK(overlay.limit() == physical.limit());
  CHECK(overlay.dirty_pages() == 0);
  CHECK(read_string(overlay, 0x2000, 9) == std::string("page@8192", 9));

  uint64_t generation = overlay.generation();
  REQUIRE(overlay.write(0x2005, "XXXX", 4).ok());
  CHECK(overlay.generation() != generation);
  CHECK(overlay.dirty_pages() == 1);
  CHECK(read_string(overlay, 0x2000, 9) == "page@XXXX");
  CHECK(read_string(physical, 0x2000, 9) == "page@8192");

  // A read across written and unwritten pages stitches them.
  std::string span = read_string(overlay, 0x1000, 0x3000);
  CHECK(span.substr(0, 9) == "page@4096");
  CHECK(span.substr(0x1000, 9) == "page@XXXX");
  CHECK(span.substr(0x2000, 10) == "page@12288");

  // A write spanning pages copies each.
  REQUIRE(overlay.write(0x2ffe, "abcd", 4).ok());
  CHECK(overlay.dirty_pages() == 2);
  CHECK(read_string(overlay, 0x2ffe, 4) == "abcd");
  CHECK(read_string(overlay, 0x3000, 9) == "cdge@1228");
  CHECK(overlay.dirty_page_addresses() == std::vector<uint64_t>{0x2000, 0x3000});
}

TEST_CASE("overlay: writing memory that is not in the image fails and changes nothing") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  uint64_t generation = overlay.generation();
  IoResult w = overlay.write(0x7000, "x", 1);
  REQUIRE(w.fault);
  CHECK(w.done == 0);
  CHECK(w.fault->address == 0x7000);
  CHECK(w.fault->layer == "overlay");
  CHECK_THAT(w.fault->reason, Catch::Contains("not in the image"));
  // Spanning from a readable page into the hole: all or nothing.
  w = overlay.write(0x4ffc, "12345678", 8);
  REQUIRE(w.fault);
  CHECK(w.done == 0);
  CHECK(w.fault->address == 0x5000);
  CHECK(overlay.dirty_pages() == 0);
  CHECK(overlay.generation() == generation);
  // Reads of the hole still fault in the layer below.
  char byte;
  IoResult r = overlay.read(0x7000, &byte, 1);
  REQUIRE(r.fault);
  CHECK(r.fault->address == 0x7000);
}

TEST_CASE("overlay: peek / ranges / discard") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  CHECK(overlay.peek(0x1000, 16) == physical.peek(0x1000, 16));
  REQUIRE(overlay.write(0x3004, "!", 1).ok());
  const uint8_t* written = overlay.peek(0x3000, 8);
  REQUIRE(written != nullptr);
  CHECK(written == overlay.dirty_page(0x3000));
  CHECK(std::string(reinterpret_cast<const char*>(written), 5) == "page!");
  CHECK(overlay.peek(0x1000, 16) == physical.peek(0x1000, 16));
  CHECK(overlay.peek(0x2ff0, 0x20) == nullptr);  // crosses into the written page

  std::vector<Range> mine, theirs;
  overlay.ranges([&](const Range& r) { mine.push_back(r); return true; });
  physical.ranges([&](const Range& r) { theirs.push_back(r); return true; });
  CHECK(mine == theirs);

  uint64_t generation = overlay.generation();
  overlay.discard();
  CHECK(overlay.generation() != generation);
  CHECK(overlay.dirty_pages() == 0);
  CHECK(read_string(overlay, 0x3000, 10) == "page@12288");
  CHECK(overlay.dirty_page(0x3000) == nullptr);
}

TEST_CASE("overlay file: save and load round trip") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  REQUIRE(overlay.write(0x10004, "PATCH", 5).ok());
  REQUIRE(overlay.write(0x1ffd, "across", 6).ok());
  REQUIRE(overlay.dirty_pages() == 3);
  test::TempDir dir("overlay");
  std::string path = dir.file("session.msov");
  save_overlay(overlay, kImage, path);
  // Only the final file remains: the temporary was renamed.
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) (void)entry, ++files;
  CHECK(files == 1);

  Overlay fresh(physical);
  REQUIRE(fresh.write(0x4000, "stale", 5).ok());  // replaced by the load
  uint64_t generation = fresh.generation();
  OverlayFileInfo info = load_overlay(fresh, kImage, path);
  CHECK(fresh.generation() != generation);
  CHECK(info.version == kOverlayFormatVersion);
  CHECK(info.pages == 3);
  CHECK(info.image == kImage);
  CHECK(info.warnings.empty());
  CHECK(fresh.dirty_page_addresses() == std::vector<uint64_t>{0x1000, 0x2000, 0x10000});
  CHECK(read_string(fresh, 0x10000, 9) == "far PATCH");
  CHECK(read_string(fresh, 0x1ffd, 6) == "across");
  CHECK(read_string(fresh, 0x4000, 5) == "page@");
  for (uint64_t page : overlay.dirty_page_addresses())
    CHECK(std::equal(overlay.dirty_page(page), overlay.dirty_page(page) + 4096, fresh.dirty_page(page)));

  SECTION("an empty overlay round-trips too") {
    Overlay empty(physical);
    save_overlay(empty, kImage, path);  // replaces the file
    load_overlay(fresh, kImage, path);
    CHECK(fresh.dirty_pages() == 0);
  }
  SECTION("a moved image only warns") {
    ImageIdentity moved = kImage;
    moved.path = "/cases/42/host.lime";
    info = load_overlay(fresh, moved, path);
    REQUIRE(info.warnings.size() == 1);
    CHECK_THAT(info.warnings[0], Catch::Contains("/evidence/host.lime"));
  }
  SECTION("a different image size or fingerprint is refused, or warned about") {
    ImageIdentity other = kImage;
    other.size += 4096;
    CHECK_THROWS_WITH(load_overlay(fresh, other, path), Catch::Contains("bytes") && Catch::Contains(path));
    other = kImage;
    other.fingerprint = "sha256:def";
    CHECK_THROWS_WITH(load_overlay(fresh, other, path), Catch::Contains("fingerprint"));
    info = load_overlay(fresh, other, path, IdentityCheck::warn);
    REQUIRE(info.warnings.size() == 1);
    CHECK_THAT(info.warnings[0], Catch::Contains("fingerprint"));
    CHECK(fresh.dirty_pages() == 3);
  }
  SECTION("pages the image below does not hold are refused") {
    BufferSpace smaller;
    smaller.map(0x1000, 0x2000);  // lacks 0x10000
    Overlay on_smaller(smaller);
    CHECK_THROWS_WITH(load_overlay(on_smaller, kImage, path), Catch::Contains("0x10000"));
    CHECK(on_smaller.dirty_pages() == 0);
  }
}

TEST_CASE("overlay file: corruption is detected before the overlay changes") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  REQUIRE(overlay.write(0x1000, "one", 3).ok());
  REQUIRE(overlay.write(0x3000, "two", 3).ok());
  test::TempFile file("overlay-corrupt");
  save_overlay(overlay, kImage, file.path());
  const std::vector<uint8_t> good = file.read();
  // Header: 48 fixed bytes, path, fingerprint, CRC. Two records of 4108
  // bytes, then a 24-byte trailer.
  const size_t header = 48 + kImage.path.size() + kImage.fingerprint.size() + 4;
  REQUIRE(good.size() == header + 2 * 4108 + 24);

  Overlay target(physical);
  REQUIRE(target.write(0x2000, "keep", 4).ok());
  auto expect_format_error = [&](const std::vector<uint8_t>& bytes, const std::string& fragment) {
    file.write(bytes);
    CHECK_THROWS_AS(load_overlay(target, kImage, file.path()), FormatError);
    CHECK_THROWS_WITH(load_overlay(target, kImage, file.path()),
                      Catch::Contains(file.path()) && Catch::Contains(fragment));
    // All or nothing: the overlay still holds its own write only.
    CHECK(target.dirty_pages() == 1);
    CHECK(read_string(target, 0x2000, 4) == "keep");
  };

  SECTION("wrong magic") {
    auto bytes = good;
    bytes[0] = 'X';
    expect_format_error(bytes, "not a memscope overlay");
  }
  SECTION("unknown version") {
    auto bytes = good;
    bytes[8] = 2;
    expect_format_error(bytes, "version 2");
  }
  SECTION("flipped byte in the header") {
    auto bytes = good;
    bytes[33] ^= 0x40;  // image size
    expect_format_error(bytes, "offset 0x" );
    CHECK_THROWS_WITH(load_overlay(target, kImage, file.path()), Catch::Contains("header checksum"));
  }
  SECTION("flipped byte in a page") {
    auto bytes = good;
    bytes[header + 4108 + 8 + 100] ^= 1;  // second record's data
    std::ostringstream offset;
    offset << "offset 0x" << std::hex << header + 4108;
    expect_format_error(bytes, offset.str());
    CHECK_THROWS_WITH(load_overlay(target, kImage, file.path()), Catch::Contains("page record 1"));
  }
  SECTION("flipped byte in the trailer") {
    auto bytes = good;
    bytes[bytes.size() - 10] ^= 1;
    expect_format_error(bytes, "trailer");
  }
  SECTION("truncated") {
    for (size_t keep : {size_t{0}, size_t{20}, header - 1, header + 100, good.size() - 1}) {
      INFO("kept " << keep << " bytes");
      expect_format_error(std::vector<uint8_t>(good.begin(), good.begin() + static_cast<long>(keep)), "truncated");
    }
  }
  SECTION("extended") {
    auto bytes = good;
    bytes.push_back(0);
    expect_format_error(bytes, "unexpected bytes");
  }
  SECTION("an absurd page count does not allocate") {
    auto bytes = good;
    for (int i = 0; i < 8; ++i) bytes[24 + i] = 0xff;  // page count
    file.write(bytes);
    // The header checksum catches it first; the size check would too.
    CHECK_THROWS_AS(load_overlay(target, kImage, file.path()), FormatError);
  }
  SECTION("a missing file is an Error naming it") {
    CHECK_THROWS_WITH(load_overlay(target, kImage, file.path() + ".missing"), Catch::Contains(".missing"));
  }
}

TEST_CASE("session: the image's identity is the size and a head-and-tail fingerprint, as before") {
  // Larger than the two 1 MiB windows, so head and tail differ.
  test::TempFile image("identity");
  std::vector<uint8_t> bytes((uint64_t{5} << 20) + 123);
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(i * 31 + (i >> 20));
  image.write(bytes);
  SessionOptions options;
  options.image = image.path();
  Session session(options);
  ImageIdentity identity = session.image_identity();
  CHECK(identity.path == image.path());
  CHECK(identity.size == bytes.size());
  // What overlays saved before were stamped with: SHA-256 of the size,
  // the first MiB and the last MiB.
  uint64_t size = bytes.size();
  Sha256 hash;
  hash.update(&size, sizeof size);
  hash.update(bytes.data(), 1 << 20);
  hash.update(bytes.data() + size - (1 << 20), 1 << 20);
  CHECK(identity.fingerprint == "head-tail-sha256:" + Sha256::to_hex(hash.finish()));
  CHECK(identity.fingerprint == head_tail_fingerprint(image.path()));
}

TEST_CASE("overlay file: save to an unwritable place names the path") {
  BufferSpace physical;
  fill(physical);
  Overlay overlay(physical);
  CHECK_THROWS_WITH(save_overlay(overlay, kImage, "/nonexistent-dir/x.msov"), Catch::Contains("/nonexistent-dir/x.msov"));
}
