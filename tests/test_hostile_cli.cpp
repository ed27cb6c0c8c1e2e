// What reaches the analyst on the command line when the evidence is
// damaged: `-q` hides progress, never the warnings that say a result is
// incomplete. A flipped bit in the compressed chunk that holds a task
// costs that task's fields; the command says so on stderr (with -q too),
// exits 0, or 3 with --strict; a truncated image's own warning comes
// first, and `info` shows it.
#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "core/layers/format_registry.h"
#include "formats/lz4/lz4_seekable.h"
#include "formats/lz4/lz4_seekable_writer.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

std::vector<uint8_t> read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), {});
}

void write_all(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// `kernel` as a LiME file cut three pages short (an acquisition that
// stopped) at dir/image.lime, and its profile at dir/profile.json.
void write_truncated_lime(test::SyntheticLinux& kernel, const test::TempDir& dir) {
  const std::string image = dir.file("image.lime");
  kernel.write_lime(image);
  kernel.write_profile(dir.file("profile.json"));
  // Cut the file in place: a vector resized to size() - N made GCC 12's
  // -Warray-bounds (at -O1 with ASan) assume the subtraction could wrap.
  const uint64_t size = std::filesystem::file_size(image);
  REQUIRE(size > 4096 * 3);
  std::filesystem::resize_file(image, size - 4096 * 3);
}

}  // namespace

TEST_CASE("cli: a flipped bit in the chunk holding a task / -q still shows the warning naming the chunk") {
  test::SyntheticLinux kernel;
  test::TempDir dir("hostile-cli");
  const std::string raw = dir.file("image.raw"), lz4 = dir.file("image.lz4"), profile = dir.file("profile.json");
  kernel.write_raw(raw);
  kernel.write_profile(profile);
  {
    auto source = open_image(raw);
    Lz4WriteOptions options;
    options.chunk_size = 4096;
    options.threads = 1;
    write_lz4_seekable(*source, lz4, options);
  }
  // The chunk of the raw image (physical address = data offset) that holds
  // task 205's task_struct.
  const uint64_t physical = kernel.kernel_physical(kernel.task_address(205));
  std::vector<uint8_t> bytes = read_all(lz4);
  uint64_t index = physical / 4096, at = 0, size = 0;
  {
    auto layer = Lz4SeekableLayer::open(std::make_shared<const MappedFile>(lz4));
    at = layer->frame_offset(index);
    size = layer->entry(index).compressed_size;
  }
  bytes[at + size / 2] ^= 0x01;
  write_all(lz4, bytes);

  test::CliRun clean = test::run_cli({"linux.pslist", "-f", raw, "-p", profile, "-o", "jsonl"});
  REQUIRE(clean.status == 0);
  for (const std::vector<std::string>& flags : {std::vector<std::string>{"-q"}, std::vector<std::string>{}}) {
    std::vector<std::string> args = {"linux.pslist", "-f", lz4, "-p", profile, "-o", "jsonl"};
    args.insert(args.end(), flags.begin(), flags.end());
    test::CliRun damaged = test::run_cli(args);
    INFO(damaged.err);
    CHECK(damaged.status == 0);
    CHECK_THAT(damaged.err, Catch::Contains("warning:") && Catch::Contains("chunk " + std::to_string(index)));
    CHECK(damaged.out != clean.out);
  }
  test::CliRun strict = test::run_cli({"linux.pslist", "-f", lz4, "-p", profile, "-q", "--strict"});
  CHECK(strict.status == 3);
  CHECK_THAT(strict.err, Catch::Contains("chunk " + std::to_string(index)));
}

TEST_CASE("cli: a truncated image's warning reaches stderr with -q / info shows it and still finds the kernel") {
  test::SyntheticLinux kernel;
  test::TempDir dir("hostile-cli-cut");
  write_truncated_lime(kernel, dir);
  const std::string image = dir.file("image.lime"), profile = dir.file("profile.json");
  test::CliRun pslist = test::run_cli({"linux.pslist", "-f", image, "-p", profile, "-q"});
  INFO(pslist.err);
  CHECK(pslist.status == 0);
  CHECK_THAT(pslist.err, Catch::Contains("warning: " + image + ": truncated"));
  test::CliRun info = test::run_cli({"info", "-f", image, "-p", profile, "-q"});
  INFO(info.err);
  CHECK(info.status == 0);
  CHECK_THAT(info.out, Catch::Contains("Image warning:") && Catch::Contains("truncated"));
  CHECK_THAT(info.err, Catch::Contains("truncated"));
}

TEST_CASE("cli: info fails when no kernel is found or the profile named cannot be used / says so on stderr") {
  test::TempDir dir("hostile-cli-info");
  const std::string junk = dir.file("junk.raw");
  write_all(junk, std::vector<uint8_t>(8192, 0x5a));
  test::CliRun none = test::run_cli({"info", "-f", junk});
  CHECK(none.status == 1);
  CHECK_THAT(none.err, Catch::Contains("memscope: info:") && Catch::Contains("no Linux kernel"));
  // Listing banners asks for no kernel: no failure when there is none.
  test::CliRun banners = test::run_cli({"info", "-f", junk, "--all-banners"});
  CHECK(banners.status == 0);
  test::CliRun missing = test::run_cli({"info", "-f", test::sample_image(), "-p", dir.file("absent.json")});
  CHECK(missing.status == 1);
  CHECK_THAT(missing.err, Catch::Contains("profile") && Catch::Contains("absent.json"));
  test::CliRun fine = test::run_cli({"info", "-f", test::sample_image(), "-p", test::sample_profile()});
  CHECK(fine.status == 0);
  CHECK(fine.err.empty());
}

TEST_CASE("cli: convert of a truncated image says what the source lacked / seekable LZ4 and ELF outputs keep saying it") {
  test::SyntheticLinux kernel;
  test::TempDir dir("hostile-cli-convert");
  write_truncated_lime(kernel, dir);
  const std::string image = dir.file("image.lime"), profile = dir.file("profile.json");
  const std::string truncated_warning = image + ": truncated";

  // raw cannot record it: stderr must, with -q too; --strict says incomplete.
  test::CliRun raw = test::run_cli({"convert", image, dir.file("out.raw"), "--to", "raw", "-q"});
  INFO(raw.err);
  CHECK(raw.status == 0);
  CHECK_THAT(raw.err, Catch::Contains("warning: " + truncated_warning));
  test::CliRun strict = test::run_cli({"--strict", "convert", image, dir.file("strict.raw"), "--to", "raw", "-q"});
  CHECK(strict.status == 3);
  CHECK_THAT(strict.err, Catch::Contains(truncated_warning));

  // Seekable LZ4 records it: whoever opens the output later is told.
  const std::string lz4 = dir.file("out.lz4");
  test::CliRun to_lz4 = test::run_cli({"convert", image, lz4, "-q"});
  INFO(to_lz4.err);
  REQUIRE(to_lz4.status == 0);
  CHECK_THAT(to_lz4.err, Catch::Contains(truncated_warning));
  auto layer = open_image(lz4);
  REQUIRE(layer->warnings().size() == 1);
  CHECK_THAT(layer->warnings()[0], Catch::Contains(lz4) && Catch::Contains("converted from image.lime") &&
                                       Catch::Contains(truncated_warning));
  test::CliRun pslist = test::run_cli({"linux.pslist", "-f", lz4, "-p", profile, "-q"});
  CHECK(pslist.status == 0);
  CHECK_THAT(pslist.err, Catch::Contains("converted from image.lime"));
  // So does an ELF core (MEMSCOPE notes), and `info` lists those notes.
  const std::string elf = dir.file("out.elf");
  test::CliRun to_elf = test::run_cli({"convert", image, elf, "--to", "elf", "-q"});
  INFO(to_elf.err);
  REQUIRE(to_elf.status == 0);
  auto elf_layer = open_image(elf);
  REQUIRE(elf_layer->warnings().size() == 1);
  CHECK_THAT(elf_layer->warnings()[0], Catch::Contains(elf) && Catch::Contains("converted from image.lime") &&
                                           Catch::Contains(truncated_warning));
  test::CliRun elf_info = test::run_cli({"info", "-f", elf, "-p", profile});
  CHECK(elf_info.status == 0);
  CHECK_THAT(elf_info.err, Catch::Contains("converted from image.lime"));
  CHECK_THAT(elf_info.out, Catch::Contains("MEMSCOPE/source warning"));
  // A whole image converts without any warning, and its ELF core has no
  // MEMSCOPE notes.
  const std::string whole = dir.file("whole.lime");
  kernel.write_lime(whole);
  test::CliRun clean = test::run_cli({"convert", whole, dir.file("whole.lz4"), "-q"});
  CHECK(clean.status == 0);
  CHECK(clean.err.empty());
  CHECK(open_image(dir.file("whole.lz4"))->warnings().empty());
  test::CliRun clean_elf = test::run_cli({"convert", whole, dir.file("whole.elf"), "--to", "elf", "-q"});
  CHECK(clean_elf.status == 0);
  CHECK(clean_elf.err.empty());
  CHECK(open_image(dir.file("whole.elf"))->warnings().empty());
  CHECK_THAT(test::run_cli({"info", "-f", dir.file("whole.elf")}).out, !Catch::Contains("MEMSCOPE"));
}

TEST_CASE("cli: --strict where it cannot apply is a usage error / report and plugins") {
  test::CliRun report = test::run_cli({"--strict", "report", "-f", test::sample_image(), "-p", test::sample_profile(),
                                       "--jsonl", "-"});
  CHECK(report.status == 2);
  CHECK_THAT(report.err, Catch::Contains("--strict does not apply to report"));
  CHECK(report.out.empty());
  test::CliRun plugins = test::run_cli({"plugins", "--strict"});
  CHECK(plugins.status == 2);
  CHECK_THAT(plugins.err, Catch::Contains("--strict does not apply to plugins"));
}

TEST_CASE("cli: text from the image cannot drive the terminal / tables, warnings and info show control bytes as dots") {
  test::SyntheticOptions options;
  options.processes = test::SyntheticLinux::default_processes();
  auto user = std::find_if(options.processes.begin(), options.processes.end(), [](const test::SyntheticProcess& p) {
    return !p.kernel_thread && !p.hidden && !p.argv.empty();
  });
  REQUIRE(user != options.processes.end());
  test::SyntheticProcess& evil = *user;
  evil.comm = "ev\x1b[2Jil\xc2\x9b";
  evil.argv = {"/bin/x", "\x1b]0;owned\x07", "caf\xc3\xa9"};
  test::SyntheticLinux kernel(options);
  test::TempDir dir("hostile-cli-terminal");
  // A file name is text the analyst did not choose either.
  const std::string image = dir.file("cut\x1b[2J.lime"), profile = dir.file("profile.json");
  kernel.write_lime(image);
  kernel.write_profile(profile);
  const uint64_t size = std::filesystem::file_size(image);
  REQUIRE(size > 4096 * 3);
  std::filesystem::resize_file(image, size - 4096 * 3);

  auto no_control = [](const std::string& text) {
    return std::none_of(text.begin(), text.end(), [](char c) {
             const auto b = static_cast<unsigned char>(c);
             return (b < 0x20 && c != '\n') || b == 0x7f;
           }) &&
           text.find("\xc2\x9b") == std::string::npos;
  };
  for (const char* plugin : {"linux.pslist", "linux.psaux"}) {
    test::CliRun run = test::run_cli({plugin, "-f", image, "-p", profile});
    INFO(plugin << "\n" << run.out << run.err);
    CHECK(run.status == 0);
    CHECK(no_control(run.out));
    CHECK(no_control(run.err));
    CHECK_THAT(run.err, Catch::Contains("warning: " + dir.file("cut.[2J.lime") + ": truncated"));
    CHECK_THAT(run.out, Catch::Contains("ev.[2Jil."));
  }
  test::CliRun psaux = test::run_cli({"linux.psaux", "-f", image, "-p", profile, "--wide"});
  CHECK_THAT(psaux.out, Catch::Contains(".]0;owned.") && Catch::Contains("caf\xc3\xa9"));
  test::CliRun info = test::run_cli({"info", "-f", image, "-p", profile});
  INFO(info.out << info.err);
  CHECK(no_control(info.out));
  CHECK(no_control(info.err));
  CHECK_THAT(info.out, Catch::Contains("Image warning:   " + dir.file("cut.[2J.lime")));
  // An error quoting a file name is one clean line too.
  test::CliRun missing = test::run_cli({"info", "-f", dir.file("missing\x1b[2J\xc2\x9b.lime")});
  CHECK(missing.status == 1);
  CHECK(no_control(missing.err));
  CHECK_THAT(missing.err, Catch::Contains("missing [2J..lime"));
  // JSON keeps the exact bytes, escaped.
  test::CliRun json = test::run_cli({"linux.pslist", "-f", image, "-p", profile, "-o", "json", "-q"});
  CHECK_THAT(json.out, Catch::Contains("ev\\u001b[2Jil"));
}
