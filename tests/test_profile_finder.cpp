// Choosing the profile by banner among symbol directories, with the banner
// index that spares a re-read of every ISF on each run.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "core/util/error.h"
#include "profiles/finder/profile_finder.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

std::string base64(const std::string& in) {
  static const char* table = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8 | uint8_t(in[i + 2]);
    for (int k = 18; k >= 0; k -= 6) out += table[(v >> k) & 63];
  }
  if (i + 1 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += "==";
  } else if (i + 2 == in.size()) {
    uint32_t v = uint8_t(in[i]) << 16 | uint8_t(in[i + 1]) << 8;
    out += table[(v >> 18) & 63];
    out += table[(v >> 12) & 63];
    out += table[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

// An ISF whose banner comes after the types, as dwarf2json writes it.
std::string isf_with_banner(const std::string& banner) {
  return R"({"metadata": {"format": "6.2.0"}, "base_types": {}, "user_types": {}, "enums": {},
  "symbols": {"linux_banner": {"address": 1, "constant_data": ")" +
         base64(banner + "\n") + std::string(R"("}}})");
}

void write_file(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

const std::string kBanner61 = "Linux version 6.1.0-56-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.192-2";
const std::string kBanner61Older = "Linux version 6.1.0-55-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.1.190-1";
const std::string kBanner66 = "Linux version 6.6.0-1-amd64 (debian-kernel@lists.debian.org) #1 SMP Debian 6.6.3-1";

FinderOptions isolated(const test::TempDir& cache) {
  FinderOptions options;
  options.include_default_dir = false;
  options.cache_dir = cache.path();
  return options;
}

}  // namespace

TEST_CASE("finder: the ISF whose banner matches exactly is chosen") {
  test::TempDir symbols("symbols"), cache("finder-cache");
  write_file(symbols.file("linux/a.json"), isf_with_banner(kBanner61Older));
  write_file(symbols.file("linux/b.json"), isf_with_banner(kBanner61));
  write_file(symbols.file("c.json"), isf_with_banner(kBanner66));
  write_file(symbols.file("notes.txt"), "not a profile");
  write_file(symbols.file("broken.json"), "{ not json");

  ProfileFinder finder({symbols.path()}, isolated(cache));
  CHECK(finder.candidates().size() == 4);  // the broken one is listed, with its error
  auto match = finder.find({"Linux version 5.10 (other)", kBanner61 + "\n"});
  REQUIRE(match);
  CHECK(match->path == fs::path(symbols.file("linux/b.json")).lexically_normal().string());
  CHECK(match->banner == kBanner61);
  CHECK_FALSE(finder.find({"Linux version 6.1.0-56-amd64"}));  // a prefix is not a match

  size_t with_errors = 0;
  for (const auto& c : finder.candidates()) with_errors += !c.error.empty();
  CHECK(with_errors == 1);

  auto profile = find_profile({symbols.path()}, {kBanner66}, isolated(cache));
  CHECK(profile->banner() == kBanner66);
}

TEST_CASE("finder: no match lists the closest banners and where it looked") {
  test::TempDir symbols("symbols-nomatch"), cache("finder-cache-nomatch");
  write_file(symbols.file("a.json"), isf_with_banner(kBanner61Older));
  write_file(symbols.file("b.json"), isf_with_banner(kBanner66));
  ProfileFinder finder({symbols.path()}, isolated(cache));
  try {
    finder.require({kBanner61});
    FAIL("no ProfileError");
  } catch (const ProfileError& e) {
    std::string message = e.what();
    CHECK_THAT(message, Catch::Contains(kBanner61) && Catch::Contains(symbols.path()));
    // The 6.1.0-55 kernel shares the longest prefix: listed first.
    size_t older = message.find(kBanner61Older), newer = message.find(kBanner66);
    REQUIRE(older != std::string::npos);
    REQUIRE(newer != std::string::npos);
    CHECK(older < newer);
  }
  auto closest = closest_banners(finder.candidates(), kBanner61, 1);
  REQUIRE(closest.size() == 1);
  CHECK(closest[0].banner == kBanner61Older);

  CHECK_THROWS_WITH(ProfileFinder({symbols.file("missing-dir")}, isolated(cache)), Catch::Contains("missing-dir"));
}

TEST_CASE("finder: banners come from the index while files are unchanged") {
  test::TempDir symbols("symbols-index"), cache("finder-cache-index");
  std::string file = symbols.file("k.json");
  write_file(file, isf_with_banner(kBanner61));
  {
    ProfileFinder finder({symbols.path()}, isolated(cache));
    CHECK(finder.find({kBanner61}));
  }
  REQUIRE(fs::exists(cache.file("banner-index.json")));

  // While the file is unchanged the index answers: a banner planted in it
  // is believed, so the file was not read again.
  {
    nlohmann::json index = nlohmann::json::parse(std::ifstream(cache.file("banner-index.json")));
    size_t planted = 0;
    for (auto& [path, entry] : index["files"].items())
      if (path.ends_with("/k.json")) entry["banner"] = "Linux version planted", ++planted;
    REQUIRE(planted == 1);
    std::ofstream(cache.file("banner-index.json"), std::ios::trunc) << index.dump();
    ProfileFinder finder({symbols.path()}, isolated(cache));
    CHECK(finder.find({"Linux version planted"}));
  }

  // Same size and modification time, other content: the status-change time
  // moved (no one can set it), so the file is read again.
  struct stat before {};
  REQUIRE(::stat(file.c_str(), &before) == 0);
  std::string changed = kBanner61;
  changed.replace(changed.find("6.1.0-56"), 8, "6.1.0-99");
  std::string same_size = isf_with_banner(changed);
  REQUIRE(same_size.size() == size_t(before.st_size));
  std::this_thread::sleep_for(std::chrono::milliseconds(20));  // timestamps move in clock ticks
  write_file(file, same_size);
  struct timespec times[2] = {before.st_atim, before.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), times, 0) == 0);
  {
    ProfileFinder finder({symbols.path()}, isolated(cache));
    CHECK_FALSE(finder.find({kBanner61}));
    CHECK_FALSE(finder.find({"Linux version planted"}));
    CHECK(finder.find({changed}));
  }

  // A new modification time: the file is read again.
  write_file(file, isf_with_banner(kBanner61));
  struct timespec later[2] = {before.st_atim, before.st_mtim};
  later[1].tv_sec += 10;
  REQUIRE(::utimensat(AT_FDCWD, file.c_str(), later, 0) == 0);
  {
    ProfileFinder finder({symbols.path()}, isolated(cache));
    CHECK(finder.find({kBanner61}));
    CHECK_FALSE(finder.find({changed}));
  }
  write_file(file, same_size);

  // Without the index every file is read each time.
  FinderOptions no_index = isolated(cache);
  no_index.use_index = false;
  CHECK(ProfileFinder({symbols.path()}, no_index).find({changed}));
}

TEST_CASE("finder: the fixture ISF is found by the image's banner") {
  std::string dir = test::fixture_dir();
  if (dir.empty()) test::skip_unless_ci("fixtures absent: " + test::fixtures_root() + "/linux-6.1");
  test::TempDir cache("finder-cache-fixture");
  ProfileFinder finder({test::fixture_file("isf.json.xz")}, isolated(cache));
  auto match = finder.find({test::truth()["linux_banner"].get<std::string>()});
  REQUIRE(match);
  CHECK_THAT(match->path, Catch::EndsWith("isf.json.xz"));
}

TEST_CASE("finder: default symbol directory follows XDG_DATA_HOME") {
  const char* saved = std::getenv("XDG_DATA_HOME");
  std::string previous = saved ? saved : "";
  ::setenv("XDG_DATA_HOME", "/somewhere/data", 1);
  CHECK(ProfileFinder::default_symbols_dir() == "/somewhere/data/memscope/symbols");
  if (saved) ::setenv("XDG_DATA_HOME", previous.c_str(), 1);
  else ::unsetenv("XDG_DATA_HOME");
}

TEST_CASE("finder: a banner that is not UTF-8 does not break the index") {
  test::TempDir symbols("symbols-binary"), cache("finder-cache-binary");
  const std::string odd = "Linux version \xff\xfe odd";
  write_file(symbols.file("odd.json"), isf_with_banner(odd));
  ProfileFinder finder({symbols.path()}, isolated(cache));
  CHECK(finder.find({odd}));
  CHECK(fs::exists(cache.file("banner-index.json")));
  CHECK_NOTHROW(ProfileFinder({symbols.path()}, isolated(cache)).candidates());
}
