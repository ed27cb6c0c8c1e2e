// Evidence integrity: memscope opens the evidence read-only (the file
// descriptor and the mapping say so) and refuses to be pointed at it as an
// output, whatever spelling of its path it is given: convert, proc_dump's
// --dump-dir, elfs' --dump-dir, an overlay saved with the C API. The
// evidence's bytes are checked unchanged after each attempt.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/session/session.h"
#include "memscope/kvm.h"
#include "support/fixtures.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

struct Evidence {
  test::TempDir dir{"evidence"};
  std::string image = dir.file("image.lime");
  std::string profile = dir.file("profile.json");
  std::string sha256;
  Evidence() {
    test::SyntheticOptions options;
    options.vmas = test::VmaIndexKind::kMapleTree;
    test::SyntheticLinux kernel(options);
    kernel.write_lime(image);
    kernel.write_profile(profile);
    ::chmod(image.c_str(), 0444);
    sha256 = test::sha256_of_file(image);
  }
  ~Evidence() { ::chmod(image.c_str(), 0644); }
  void check_unchanged() const {
    CHECK(test::sha256_of_file(image) == sha256);
    CHECK(fs::is_regular_file(image));
  }
};

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

TEST_CASE("evidence: opened read-only / the descriptor's flags and the mapping's permissions say so") {
  Evidence evidence;
  SessionOptions options;
  options.image = evidence.image;
  Session session(options);
  const std::string resolved = fs::canonical(evidence.image).string();
  int found = 0;
  for (const auto& entry : fs::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    fs::path target = fs::read_symlink(entry.path(), ec);
    if (ec || target.string() != resolved) continue;
    ++found;
    std::string info = read_text("/proc/self/fdinfo/" + entry.path().filename().string());
    // flags: octal; the access mode is the low two bits.
    size_t at = info.find("flags:");
    REQUIRE(at != std::string::npos);
    const unsigned long flags = std::stoul(info.substr(at + 6), nullptr, 8);
    CHECK((flags & O_ACCMODE) == O_RDONLY);
  }
  std::string maps = read_text("/proc/self/maps");
  std::istringstream lines(maps);
  int mappings = 0;
  for (std::string line; std::getline(lines, line);) {
    if (line.find(resolved) == std::string::npos) continue;
    ++mappings;
    std::istringstream fields(line);
    std::string range, perms;
    fields >> range >> perms;
    CHECK(perms.substr(0, 2) == "r-");
    CHECK(perms[1] != 'w');
  }
  CHECK(found + mappings > 0);
  evidence.check_unchanged();
}

TEST_CASE("evidence: convert refuses the evidence as its output / by path, symlink and hard link") {
  Evidence evidence;
  const std::string link = evidence.dir.file("link.lime");
  REQUIRE(::symlink(evidence.image.c_str(), link.c_str()) == 0);
  const std::string hard = evidence.dir.file("hard.lime");
  REQUIRE(::link(evidence.image.c_str(), hard.c_str()) == 0);
  for (const std::string& out : {evidence.image, link, hard, evidence.dir.path() + "/./image.lime"}) {
    INFO(out);
    test::CliRun run = test::run_cli({"convert", evidence.image, out, "--to", "lime", "--force"});
    CHECK(run.status != 0);
    CHECK_THAT(run.err, Catch::Contains("evidence"));
    evidence.check_unchanged();
  }
}

TEST_CASE("evidence: proc_dump and elfs refuse the evidence as their --dump-dir / and write beside it without "
          "touching it") {
  Evidence evidence;
  for (const char* plugin : {"linux.proc_dump", "linux.elfs"}) {
    INFO(plugin);
    test::CliRun run = test::run_cli({plugin, "-f", evidence.image, "-p", evidence.profile, "--pid", "201",
                                      "--dump-dir", evidence.image, "--force"});
    CHECK(run.status != 0);
    CHECK_THAT(run.err, Catch::Contains(evidence.image));
    evidence.check_unchanged();
  }
  // Its own folder is fine: new files beside it, the evidence untouched.
  test::CliRun beside = test::run_cli({"linux.proc_dump", "-f", evidence.image, "-p", evidence.profile, "--pid",
                                       "201", "--dump-dir", evidence.dir.path()});
  INFO(beside.err);
  CHECK(beside.status == 0);
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(evidence.dir.path())) files += entry.path() != evidence.image;
  CHECK(files > 1);
  evidence.check_unchanged();
}

TEST_CASE("evidence: an overlay is never saved over the evidence / by path or symlink") {
  Evidence evidence;
  const std::string link = evidence.dir.file("link.lime");
  REQUIRE(::symlink(evidence.image.c_str(), link.c_str()) == 0);
  char error[KVM_ERRBUF_SIZE] = {};
  kvm_t* kd = kvm_openfiles(evidence.profile.c_str(), evidence.image.c_str(), nullptr, O_RDONLY, error);
  REQUIRE(kd != nullptr);
  for (const std::string& out : {evidence.image, link}) {
    INFO(out);
    CHECK(kvm_overlay_save(kd, out.c_str()) == -1);
    CHECK_THAT(std::string(kvm_geterr(kd)), Catch::Contains("evidence") && Catch::Contains("refusing"));
    evidence.check_unchanged();
    CHECK(fs::is_symlink(link));
  }
  // Elsewhere, it is saved.
  CHECK(kvm_overlay_save(kd, evidence.dir.file("changes.overlay").c_str()) == 0);
  kvm_close(kd);
  evidence.check_unchanged();
}
