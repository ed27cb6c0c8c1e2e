// Cost that does not grow with the image: a 64 GiB sparse raw image (an
// image's bytes, then a hole to 64 GiB, as `cp --sparse=always` and
// `truncate -s 64G` make it) through the built command. `info` finds the
// kernel without reading the hole; `info --all-banners` lists the banners
// and reports the holes it skipped. Behaviour only: no timing here (the
// figures are bench/bench_info's).
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "core/layers/format_registry.h"
#include "core/linux/discovery/discovery.h"
#include "support/fixtures.h"
#include "support/run_cli.h"
#include "support/synthetic_linux.h"
#include "support/synthetic_self_description.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

constexpr uint64_t kGiB = uint64_t{1} << 30;
constexpr uint64_t kBigSize = 64 * kGiB;

// Copies `from` into `to` without storing its zero blocks, then extends it
// with a hole to `size` bytes. False if the filesystem cannot hold holes.
bool make_big_sparse(const std::string& from, const std::string& to, uint64_t size) {
  std::string command = "cp --sparse=always '" + from + "' '" + to + "'";
  if (std::system(command.c_str()) != 0) return false;
  if (::truncate(to.c_str(), static_cast<off_t>(size)) != 0) return false;
  int fd = ::open(to.c_str(), O_RDONLY);
  off_t hole = ::lseek(fd, 0, SEEK_HOLE);
  ::close(fd);
  return hole >= 0 && static_cast<uint64_t>(hole) < size;
}

nlohmann::json run_json(const std::vector<std::string>& args) {
  test::CliRun run = test::run_cli(args);
  INFO("memscope stderr: " << run.err);
  REQUIRE(run.status == 0);
  return nlohmann::json::parse(run.out);
}

// What every 64 GiB check below asserts of `info --all-banners -o json`.
void check_holes_reported(const nlohmann::json& all, uint64_t data_bytes) {
  REQUIRE(all["listed"].get<bool>());
  const auto& scan = all["scan"];
  CHECK_FALSE(scan.contains("incomplete"));
  // The hole after the data was skipped, not read.
  CHECK(scan["bytes_skipped"].get<uint64_t>() >= kBigSize - data_bytes);
  CHECK(scan["bytes_scanned"].get<uint64_t>() <= data_bytes);
  CHECK(scan["bytes_scanned"].get<uint64_t>() + scan["bytes_skipped"].get<uint64_t>() == kBigSize);
  REQUIRE(scan["holes"].get<uint64_t>() >= 1);
  REQUIRE_FALSE(scan["holes_skipped"].empty());
  const auto& last = scan["holes_skipped"].back();
  CHECK(last["end"].get<std::string>() == "0x1000000000");  // 64 GiB
  CHECK(last["size"].get<uint64_t>() >= kBigSize - data_bytes);
}

}  // namespace

TEST_CASE("64 GiB sparse synthetic image: info finds the kernel and --all-banners reports the holes it skipped") {
  test::SyntheticLinux image;
  test::TempDir dir("big-sparse-synthetic");
  image.write_raw(dir.file("small.raw"));
  image.write_profile(dir.file("profile.json"));
  if (!make_big_sparse(dir.file("small.raw"), dir.file("big.raw"), kBigSize))
    test::skip_unless_ci("the temporary folder cannot hold a 64 GiB sparse file");
  const uint64_t data_bytes = std::filesystem::file_size(dir.file("small.raw"));

  nlohmann::json info = run_json({"info", "-f", dir.file("big.raw"), "-p", dir.file("profile.json"), "-o", "json"});
  REQUIRE_FALSE(info["kernel"].contains("error"));
  CHECK(info["kernel"]["banner"].get<std::string>() == image.banner());
  CHECK(info["file_size"].get<uint64_t>() == kBigSize);
  // No whole-image pass unless asked, and the output says how to ask.
  CHECK_FALSE(info["all_banners"]["listed"].get<bool>());
  CHECK(info["all_banners"]["how"].get<std::string>() == "memscope info --all-banners");

  nlohmann::json all = run_json(
      {"info", "--all-banners", "-f", dir.file("big.raw"), "-p", dir.file("profile.json"), "-o", "json"});
  check_holes_reported(all["all_banners"], data_bytes);
  bool listed = false;
  for (const auto& banner : all["all_banners"]["banners"]) listed = listed || banner["text"] == image.banner();
  CHECK(listed);

  // The text output says what was skipped.
  test::CliRun text = test::run_cli({"info", "--all-banners", "-f", dir.file("big.raw"), "-p", dir.file("profile.json")});
  REQUIRE(text.status == 0);
  CHECK(text.out.find("hole(s) skipped unread") != std::string::npos);
  CHECK(text.out.find("0x1000000000") != std::string::npos);
  test::CliRun plain = test::run_cli({"info", "-f", dir.file("big.raw"), "-p", dir.file("profile.json")});
  CHECK(plain.out.find("not listed (memscope info --all-banners") != std::string::npos);
}

TEST_CASE("64 GiB sparse copy of the fixture: info finds the kernel with and without a profile - --all-banners skips the hole") {
  const std::string raw = test::fixture("image.raw");
  const std::string isf = test::fixture_file("isf.json.xz");
  const nlohmann::json& truth = test::truth();
  test::TempDir dir("big-sparse-fixture");
  if (!make_big_sparse(raw, dir.file("big.raw"), kBigSize))
    test::skip_unless_ci("the temporary folder cannot hold a 64 GiB sparse file");
  const uint64_t data_bytes = std::filesystem::file_size(raw);

  for (const std::vector<std::string>& profile : {std::vector<std::string>{"-p", isf}, std::vector<std::string>{}}) {
    std::vector<std::string> args = {"info", "-f", dir.file("big.raw"), "-o", "json"};
    args.insert(args.end(), profile.begin(), profile.end());
    INFO((profile.empty() ? "without a profile" : "with the ISF"));
    nlohmann::json info = run_json(args);
    REQUIRE_FALSE(info["kernel"].contains("error"));
    CHECK(info["kernel"]["os_release"].get<std::string>() == truth["kernel_release"].get<std::string>());
    CHECK(info["kernel"]["kaslr_virtual_shift"].get<std::string>() == truth["kaslr_offset"].get<std::string>());
    CHECK_FALSE(info["all_banners"]["listed"].get<bool>());
  }

  nlohmann::json all = run_json({"info", "--all-banners", "-f", dir.file("big.raw"), "-p", isf, "-o", "json"});
  check_holes_reported(all["all_banners"], data_bytes);
  std::string banner = truth["linux_banner"].get<std::string>();
  while (!banner.empty() && (banner.back() == '\n' || banner.back() == ' ')) banner.pop_back();
  bool listed = false;
  for (const auto& b : all["all_banners"]["banners"]) listed = listed || b["text"].get<std::string>() == banner;
  CHECK(listed);
}

namespace {

// The image's bytes followed by `extra` bytes of non-zero junk (no hole to
// skip), counting what is read of the junk.
class JunkAfter : public AddressSpace {
 public:
  JunkAfter(AddressSpace& below, uint64_t extra) : below_(below), end_(below.limit()), limit_(below.limit() + extra) {
    share_generation(below);
  }
  std::string name() const override { return "junk-after"; }
  AddressSpace* below() const override { return &below_; }
  uint64_t limit() const override { return limit_; }
  void ranges(const std::function<bool(const Range&)>& visit) const override {
    bool go = true;
    below_.ranges([&](const Range& r) { return go = visit(r); });
    if (go) visit(Range{end_, limit_ - end_});
  }
  uint64_t junk_read() const { return junk_read_; }

 protected:
  IoResult do_read(uint64_t address, void* buffer, size_t n, unsigned flags) override {
    auto* out = static_cast<uint8_t*>(buffer);
    size_t below_part = address < end_ ? size_t(std::min<uint64_t>(n, end_ - address)) : 0;
    if (below_part) {
      IoResult first = below_.read(address, out, below_part, flags);
      if (!first.ok() || below_part == n) return first;
    }
    const size_t junk = n - below_part;
    for (size_t i = 0; i < junk; ++i) out[below_part + i] = uint8_t(0xa5 ^ ((address + below_part + i) >> 12));
    junk_read_ += junk;
    return IoResult{n, {}};
  }

 private:
  AddressSpace& below_;
  uint64_t end_, limit_;
  uint64_t junk_read_ = 0;
};

}  // namespace

TEST_CASE("discovery stops at the first validated kernel - listing every banner reads the whole image") {
  test::TempDir dir("stop-early");
  test::SyntheticLinux image;
  test::add_self_description(image);  // VMCOREINFO in RAM: found without a profile
  const std::string raw = dir.file("image.raw");
  image.write_raw(raw);
  auto layer = open_image(raw);
  constexpr uint64_t kJunk = 4 * kGiB;
  {
    JunkAfter space(*layer, kJunk);
    LinuxKernelInfo found = discover_linux_kernel(space, ImageNotes{}, nullptr);
    CHECK(found.method == "vmcoreinfo in memory");
    // At most the chunks the workers had in flight when the kernel was found.
    INFO("junk read: " << space.junk_read());
    CHECK(space.junk_read() < kJunk / 16);
  }
  {
    JunkAfter space(*layer, kJunk);
    DiscoveryOptions all;
    all.list_all_banners = true;
    LinuxKernelInfo found = discover_linux_kernel(space, ImageNotes{}, nullptr, all);
    CHECK(found.method == "vmcoreinfo in memory");
    // Every byte of the junk, some twice (the overlap between chunks).
    CHECK(space.junk_read() >= kJunk);
  }
}
