// Format-blindness: the same guest in every format memscope reads (raw,
// LiME, ELF core, seekable LZ4, the four kdump fixtures and a zstd kdump,
// AVML, compressed LiME) gives identical rows from every registered plugin.
// The plugins come from the registry, so the test grows as plugins are added;
// a plugin that cannot run without options on the raw image is left out
// with a warning.
#include <catch2/catch.hpp>

#include <cstring>
#include <filesystem>
#include <map>
#include <memory>
#include <sstream>

#include "cli/render/render.h"
#include "core/convert/convert.h"
#include "core/layers/format_registry.h"
#include "core/plugin/plugin.h"
#include "core/session/session.h"
#include "formats/kdump/kdump_format.h"
#include "support/avml_writer.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/kdump_writer.h"
#include "support/lime_zlib_writer.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

struct Image {
  std::string label;   // the format, as the test reports it
  std::string format;  // what open_image must detect
  std::string path;
};

// The guest in every format; the formats no tool here writes are made from
// the raw fixture by the test-side writers, once per process.
const std::vector<Image>& images() {
  static test::TempDir dir("format-blind");
  static const std::vector<Image> list = [] {
    std::vector<Image> v;
    const std::string raw = test::fixture("image.raw");
    v.push_back({"raw", "raw", raw});
    v.push_back({"lime", "lime", test::fixture("image.lime")});
    v.push_back({"elf", "elf", test::fixture("image.elf")});
    for (const char* kdump : {"image.kdump-zlib", "image.kdump-raw-zlib", "image.kdump-lzo", "image.kdump-snappy"})
      v.push_back({std::string(kdump).substr(6), "kdump", test::fixture(kdump)});
    ConvertOptions lz4;
    lz4.progress = false;
    lz4.threads = 2;
    convert_image(raw, dir.file("image.lz4"), lz4);
    v.push_back({"lz4-seekable", "lz4-seekable", dir.file("image.lz4")});
    auto source = open_image(raw);
    test::KdumpWriteOptions zstd;
    zstd.codec = kdump::kCompressedZstd;
    test::write_kdump(*source, dir.file("image.kdump-zstd"), zstd);
    v.push_back({"kdump-zstd", "kdump", dir.file("image.kdump-zstd")});
    test::write_avml(*source, dir.file("image.avml"));
    v.push_back({"avml", "avml", dir.file("image.avml")});
    test::write_lime_zlib(*source, dir.file("image.lime.z"));
    v.push_back({"lime-zlib", "lime-zlib", dir.file("image.lime.z")});
    return v;
  }();
  return list;
}

Session& session_for(const Image& image) {
  static std::map<std::string, std::unique_ptr<Session>> sessions;
  auto& session = sessions[image.path];
  if (!session) {
    SessionOptions options;
    options.image = image.path;
    options.profile = test::fixture_isf_profile();
    session = std::make_unique<Session>(options);
  }
  return *session;
}

// The rows as JSON (columns in order, nested rows under "children").
std::string rows_of(const Table& table) {
  Table rows_only = table;
  rows_only.warnings.clear();
  std::ostringstream out;
  render_json(rows_only, out);
  return out.str();
}

// The first line where two renderings differ, for the failure message.
std::string first_difference(const std::string& a, const std::string& b) {
  std::istringstream sa(a), sb(b);
  std::string la, lb;
  for (int line = 1;; ++line) {
    bool more_a = static_cast<bool>(std::getline(sa, la)), more_b = static_cast<bool>(std::getline(sb, lb));
    if (!more_a && !more_b) return "(identical)";
    if (la != lb || more_a != more_b) return "line " + std::to_string(line) + ": " + la + "  <->  " + lb;
  }
}

}  // namespace

TEST_CASE("format-blind: every format of the guest is detected and maps the same RAM") {
  test::use_build_tree_cache();
  uint64_t raw_bytes = 0;
  for (const Image& image : images()) {
    INFO(image.label);
    auto layer = open_image(image.path);
    CHECK(layer->format() == image.format);
    uint64_t mapped = 0;
    layer->ranges([&](const Range& r) {
      if (r.start < (uint64_t{1} << 32) - (uint64_t{1} << 20)) mapped += r.size;  // below the BIOS ROM
      return true;
    });
    if (image.label == "raw") raw_bytes = mapped;
    // AVML leaves out all-zero 16 MiB blocks; every other format holds all of RAM.
    if (image.label != "avml") CHECK(mapped == raw_bytes);
  }
}

TEST_CASE("format-blind: every plugin gives identical rows on every format of the guest") {
  test::use_build_tree_cache();
  const std::vector<Image>& list = images();
  REQUIRE(list.size() == 11);
  for (const Plugin& plugin : plugins()) {
    DYNAMIC_SECTION(plugin.info.name) {
      PluginResult reference = run_plugin(plugin, session_for(list[0]), PluginArgs{});
      if (!reference.ok) {
        WARN(plugin.info.name << " does not run without options on the raw image: " << reference.error);
        continue;
      }
      const std::string expected = rows_of(reference.table);
      for (size_t i = 1; i < list.size(); ++i) {
        INFO(plugin.info.name << " on " << list[i].label << " (" << list[i].path << ")");
        PluginResult result = run_plugin(plugin, session_for(list[i]), PluginArgs{});
        INFO(result.error);
        REQUIRE(result.ok);
        const std::string got = rows_of(result.table);
        INFO(first_difference(expected, got));
        CHECK(result.table.rows.size() == reference.table.rows.size());
        CHECK(got == expected);
      }
    }
  }
  CHECK(plugins().size() >= 5);
}

TEST_CASE("format-blind: convert turns every compressed format into raw - LiME - ELF and seekable LZ4 with the same bytes") {
  test::use_build_tree_cache();
  test::TempDir dir("format-blind-convert");
  const std::vector<Image>& list = images();
  auto raw = open_image(list[0].path);
  for (const Image& source : list) {
    if (source.format != "kdump" && source.format != "avml" && source.format != "lime-zlib") continue;
    if (source.format == "kdump" && source.label != "kdump-zlib" && source.label != "kdump-zstd") continue;
    auto in = open_image(source.path);
    uint64_t data_bytes = 0;
    in->ranges([&](const Range& r) {
      data_bytes += r.size;
      return true;
    });
    for (const char* target : {"raw", "lime", "elf", "lz4"}) {
      INFO(source.label << " -> " << target);
      const std::string out = dir.file(source.label + "." + target);
      ConvertOptions options;
      options.to = target;
      options.progress = false;
      options.threads = 2;
      // verify: the output is read back and compared with the source, byte for byte.
      ConvertResult result = convert_image(source.path, out, options);
      CHECK(result.verified);
      CHECK(result.source_format == source.format);
      auto converted = open_image(out);
      CHECK(converted->format() == (std::string(target) == "lz4" ? "lz4-seekable" : target));
      if (std::string(target) != "raw") {
        CHECK(result.data_bytes == data_bytes);
      }
      // VMCOREINFO goes where the target can hold it (ELF notes, the LZ4 metadata).
      if ((std::string(target) == "elf" || std::string(target) == "lz4") && !in->notes().vmcoreinfo.empty())
        CHECK(converted->notes().vmcoreinfo == in->notes().vmcoreinfo);
      // And it is still the guest: a page of every 8 MiB it maps, against the raw image.
      size_t compared = 0;
      converted->ranges([&](const Range& r) {
        for (uint64_t at = (r.start + 0x7fffff) & ~uint64_t{0x7fffff}; at + 4096 <= r.end(); at += 0x800000) {
          uint8_t a[4096], b[4096];
          if (!raw->read(at, a, sizeof a).ok()) continue;
          REQUIRE(converted->read(at, b, sizeof b).ok());
          CHECK(std::memcmp(a, b, sizeof a) == 0);
          ++compared;
        }
        return true;
      });
      CHECK(compared >= 8);
      std::filesystem::remove(out);
    }
  }
}
