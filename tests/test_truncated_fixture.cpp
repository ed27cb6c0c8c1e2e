// Evidence cut short, on the real fixture: a prefix of each image format
// (ELF core, LiME, seekable LZ4, plain .lz4; 95% and 50% of the file)
// opens with a warning that names what is missing; reads past the cut
// fail naming the address; on the 95% prefix linux.pslist and linux.lsmod
// give the rows of the whole image (the memory the cut loses holds none of
// their structures), with the image's warning among the plugin's. A plain
// .lz4 file with one corrupt block loses only the bytes of that block.
// Prefixes are written into a temporary folder, never beside the fixture.
#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "cli/render/render.h"
#include "core/layers/format_registry.h"
#include "core/plugin/plugin.h"
#include "core/util/hex.h"
#include "core/session/session.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// The fixture's profile (its ISF), and caches kept in the build tree.
SessionOptions options_for(const std::string& image) {
  test::use_build_tree_cache();
  SessionOptions options;
  options.image = image;
  options.profile = test::fixture_file("isf.json.xz");
  return options;
}

struct PluginRows {
  std::string rows;  // the table rendered as JSON
  std::vector<std::string> warnings;
};

PluginRows rows_of(const std::string& image, const std::string& plugin) {
  Session session(options_for(image));
  PluginResult result = run_plugin(*find_plugin(plugin), session, {});
  INFO(result.error);
  REQUIRE(result.ok);
  std::ostringstream out;
  render(result.table, OutputFormat::Json, out);
  return {out.str(), result.table.warnings};
}

void write_prefix(const std::string& from, const std::string& to, double fraction) {
  std::ifstream in(from, std::ios::binary);
  in.seekg(0, std::ios::end);
  const auto size = static_cast<uint64_t>(in.tellg());
  const auto keep = static_cast<uint64_t>(static_cast<double>(size) * fraction);
  in.seekg(0);
  std::ofstream out(to, std::ios::binary | std::ios::trunc);
  std::vector<char> buffer(1 << 20);
  for (uint64_t left = keep; left > 0;) {
    const auto n = static_cast<std::streamsize>(std::min<uint64_t>(left, buffer.size()));
    in.read(buffer.data(), n);
    out.write(buffer.data(), n);
    left -= static_cast<uint64_t>(n);
  }
  REQUIRE(out.good());
}

bool mentions(const std::vector<std::string>& lines, const std::string& what) {
  for (const std::string& line : lines)
    if (line.find(what) != std::string::npos) return true;
  return false;
}

// The whole image and its prefixes: opened with a warning, reads past the
// cut failing with the address, and on the 95% prefix the rows of pslist
// and lsmod unchanged.
void check_prefixes(const std::string& whole, const std::string& format) {
  const PluginRows pslist = rows_of(whole, "linux.pslist");
  const PluginRows lsmod = rows_of(whole, "linux.lsmod");
  REQUIRE(pslist.rows.size() > 100);
  test::TempDir dir("truncated-" + format);
  for (double fraction : {0.95, 0.5}) {
    INFO(format << " prefix of " << fraction * 100 << "%");
    const std::string prefix = dir.file("prefix");
    write_prefix(whole, prefix, fraction);
    std::unique_ptr<PhysicalLayer> layer = open_image(prefix);
    CHECK(layer->format() == format);
    REQUIRE_FALSE(layer->warnings().empty());
    CHECK(mentions(layer->warnings(), prefix));
    CHECK(mentions(layer->warnings(), "truncated"));
    CHECK(mentions(layer->warnings(), "not in the file"));
    // Where the file's memory ends, a read fails naming the address.
    std::unique_ptr<PhysicalLayer> complete = open_image(whole);
    uint64_t lost = 0;
    complete->ranges([&](const Range& r) {
      for (uint64_t at = r.start; at < r.end() && !lost; at += 1 << 20) {
        uint8_t byte = 0;
        if (!layer->read(at, &byte, 1).ok()) lost = at;
      }
      return lost == 0;
    });
    REQUIRE(lost != 0);
    uint8_t byte = 0;
    IoResult past = layer->read(lost, &byte, 1);
    REQUIRE_FALSE(past.ok());
    CHECK(past.fault->address == lost);
    CHECK_THAT(past.fault->message(), Catch::Contains(hex(lost)) && Catch::Contains("not in the file"));
    if (fraction < 0.9) continue;
    const PluginRows cut_pslist = rows_of(prefix, "linux.pslist");
    const PluginRows cut_lsmod = rows_of(prefix, "linux.lsmod");
    CHECK(cut_pslist.rows == pslist.rows);
    CHECK(cut_lsmod.rows == lsmod.rows);
    CHECK(mentions(cut_pslist.warnings, "truncated"));
    CHECK(mentions(cut_lsmod.warnings, "truncated"));
  }
}

void require_lz4_cli() {
  if (std::system("command -v lz4 >/dev/null 2>&1") != 0) test::skip_unless_ci("the lz4 command is not installed");
}

}  // namespace

TEST_CASE("truncated fixture: ELF core prefixes open with a warning / the 95% prefix gives the same rows") {
  check_prefixes(test::fixture("image.elf"), "elf");
}

TEST_CASE("truncated fixture: LiME prefixes open with a warning / the 95% prefix gives the same rows") {
  check_prefixes(test::fixture("image.lime"), "lime");
}

TEST_CASE("truncated fixture: seekable LZ4 prefixes open with a warning / the 95% prefix gives the same rows") {
  const std::string raw = test::fixture("image.raw");
  test::TempDir dir("truncated-lz4s-source");
  const std::string lz4 = dir.file("image.lz4");
  auto source = open_image(raw);
  Lz4WriteOptions options;
  options.threads = 2;
  write_lz4_seekable(*source, lz4, options);
  check_prefixes(lz4, "lz4-seekable");
}

TEST_CASE("truncated fixture: plain lz4 prefixes open with a warning / the 95% prefix gives the same rows") {
  require_lz4_cli();
  const std::string raw = test::fixture("image.raw");
  test::TempDir dir("truncated-lz4-source");
  const std::string lz4 = dir.file("image.lz4");
  REQUIRE(std::system(("lz4 -q -f '" + raw + "' '" + lz4 + "'").c_str()) == 0);
  check_prefixes(lz4, "lz4");
}

TEST_CASE("fixture in plain lz4: one corrupt block costs only its bytes / every other byte is the raw image's") {
  require_lz4_cli();
  const std::string raw = test::fixture("image.raw");
  test::TempDir dir("corrupt-lz4");
  const std::string lz4 = dir.file("image.lz4");
  // Independent 64 KiB blocks with block checksums: the damage is located.
  REQUIRE(std::system(("lz4 -q -f -B4 -BX '" + raw + "' '" + lz4 + "'").c_str()) == 0);
  std::vector<uint8_t> bytes;
  {
    std::ifstream in(lz4, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  // A byte in the middle of the file: inside some block's data.
  bytes[bytes.size() / 2] ^= 0x5a;
  {
    std::ofstream out(lz4, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  }
  auto layer = open_image(lz4);
  auto complete = open_image(raw);
  REQUIRE(layer->warnings().size() == 1);
  CHECK_THAT(layer->warnings()[0], Catch::Contains("1 corrupt LZ4 block") && Catch::Contains(lz4));
  REQUIRE(layer->limit() == complete->limit());
  uint64_t lost = 0;
  std::vector<uint8_t> got(4096), want(4096);
  for (uint64_t at = 0; at < complete->limit(); at += 4096) {
    REQUIRE(complete->read(at, want.data(), want.size()).ok());
    IoResult r = layer->read(at, got.data(), got.size());
    if (!r.ok()) {
      CHECK_THAT(r.fault->message(), Catch::Contains("corrupt"));
      lost += 4096;
      continue;
    }
    REQUIRE(got == want);
  }
  // One 64 KiB block: 16 pages.
  CHECK(lost == 64 << 10);
}
