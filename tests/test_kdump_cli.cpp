// What an analyst sees from the command on kdump and AVML files: `info`
// names the format, layout and codec and finds the kernel; a broken header
// is refused naming the format and the field (never read as raw); a dump
// that lost pages says so beside every plugin's output; convert keeps
// VMCOREINFO and the CPU notes where the target holds them.
#include <catch2/catch.hpp>

#include <cstring>
#include <fstream>

#include "core/layers/format_registry.h"
#include "formats/kdump/kdump_format.h"
#include "support/avml_writer.h"
#include "support/fixture_profiles.h"
#include "support/fixtures.h"
#include "support/kdump_writer.h"
#include "support/run_cli.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}
void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

}  // namespace

TEST_CASE("info on each kdump fixture and on AVML: format / layout / codec / the kernel") {
  const std::string release = test::truth().at("kernel_release").get<std::string>();
  struct Expect {
    std::string path, layout, codec;
  };
  test::TempDir dir("kdump-cli");
  auto raw = open_image(test::fixture("image.raw"));
  test::write_avml(*raw, dir.file("image.avml"));
  std::vector<Expect> cases = {
      {test::fixture("image.kdump-zlib"), "kdump layout:    flattened", "page codec:      zlib"},
      {test::fixture("image.kdump-raw-zlib"), "kdump layout:    seekable", "page codec:      zlib"},
      {test::fixture("image.kdump-lzo"), "kdump layout:    flattened", "page codec:      lzo"},
      {test::fixture("image.kdump-snappy"), "kdump layout:    flattened", "page codec:      snappy"},
      {dir.file("image.avml"), "block index:     from the blocks' length trailers", "block codec:     snappy"},
  };
  for (const Expect& e : cases) {
    test::CliRun run = test::run_cli({"info", "-f", e.path});
    INFO(e.path << "\n" << run.out << run.err);
    CHECK(run.status == 0);
    CHECK(run.out.find(e.path.find("avml") != std::string::npos ? "Format:          avml\n" : "Format:          kdump\n") !=
          std::string::npos);
    CHECK(run.out.find(e.layout) != std::string::npos);
    CHECK(run.out.find(e.codec) != std::string::npos);
    CHECK(run.out.find("Kernel:          " + release) != std::string::npos);
    CHECK(run.out.find("Format:          raw") == std::string::npos);
  }
}

TEST_CASE("a kdump or AVML file with a broken header is refused naming the format and the field / never raw") {
  test::TempDir dir("kdump-cli");
  const std::string good = read_bytes(test::fixture("image.kdump-raw-zlib"));
  std::string bytes = good;
  uint32_t bad_block = 12345;
  std::memcpy(bytes.data() + kdump::header::kBlockSize, &bad_block, 4);
  write_bytes(dir.file("bad.kdump"), bytes);
  test::CliRun run = test::run_cli({"info", "-f", dir.file("bad.kdump")});
  CHECK(run.status != 0);
  CHECK(run.err.find("kdump: disk_dump_header.block_size") != std::string::npos);
  CHECK(run.out.find("Format:") == std::string::npos);

  bytes = read_bytes(test::fixture("image.kdump-snappy"));
  bytes[0x1f] = 7;  // the flattened header's version
  write_bytes(dir.file("bad.flat"), bytes);
  run = test::run_cli({"info", "-f", dir.file("bad.flat")});
  CHECK(run.status != 0);
  CHECK(run.err.find("flattened kdump (makedumpfile): header field version") != std::string::npos);

  auto raw = open_image(test::fixture("image.raw"));
  test::write_avml(*raw, dir.file("image.avml"));
  bytes = read_bytes(dir.file("image.avml"));
  bytes[4] = 1;  // version 1 with the AVML magic
  write_bytes(dir.file("bad.avml"), bytes);
  run = test::run_cli({"info", "-f", dir.file("bad.avml")});
  CHECK(run.status != 0);
  CHECK(run.err.find("avml: header at file offset 0x0: field version is 1") != std::string::npos);

  // convert refuses them too, rather than turning them into meaningless images.
  run = test::run_cli({"convert", dir.file("bad.kdump"), dir.file("out.lz4"), "-q"});
  CHECK(run.status != 0);
  CHECK(run.err.find("kdump: disk_dump_header.block_size") != std::string::npos);
}

TEST_CASE("an incomplete kdump: info and every plugin say that pages are missing") {
  test::use_build_tree_cache();
  test::TempDir dir("kdump-cli");
  auto raw = open_image(test::fixture("image.raw"));
  test::KdumpWriteOptions options;
  options.codec = kdump::kCompressedZstd;
  options.written_pages = 30000;  // of 32768: the top of RAM is lost
  test::write_kdump(*raw, dir.file("incomplete.kdump"), options);
  test::CliRun run = test::run_cli({"info", "-f", dir.file("incomplete.kdump")});
  INFO(run.out << run.err);
  CHECK(run.status == 0);
  CHECK(run.out.find("incomplete dump") != std::string::npos);
  run = test::run_cli({"linux.pslist", "-f", dir.file("incomplete.kdump"), "-p", test::fixture_isf_profile()});
  INFO(run.out << run.err);
  CHECK(run.err.find("warning: " + dir.file("incomplete.kdump") + ": kdump: incomplete dump") != std::string::npos);
  CHECK(run.err.find("2768 of 32768 dumped pages") != std::string::npos);
}

TEST_CASE("convert from kdump keeps VMCOREINFO and the CPU notes in ELF and seekable LZ4") {
  test::TempDir dir("kdump-cli");
  const std::string source = test::fixture("image.kdump-lzo");
  auto kdump = open_image(source);
  for (const char* target : {"elf", "lz4"}) {
    INFO(target);
    const std::string out = dir.file(std::string("converted.") + target);
    test::CliRun run = test::run_cli({"convert", source, out, "--to", target, "-q"});
    INFO(run.err);
    REQUIRE(run.status == 0);
    auto converted = open_image(out);
    CHECK(converted->notes().vmcoreinfo == kdump->notes().vmcoreinfo);
    REQUIRE(converted->notes().cpus.size() == kdump->notes().cpus.size());
    for (size_t i = 0; i < converted->notes().cpus.size(); ++i)
      CHECK(converted->notes().cpus[i].cr3 == kdump->notes().cpus[i].cr3);
  }
}
