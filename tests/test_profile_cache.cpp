// The binary profile cache: a cached load is the stored profile mapped and
// gives the same model; stale entries (the source changed: touch, a
// same-size edit, a replacement) and damaged ones are misses that fall back
// to parsing, the damaged ones with a warning.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <fcntl.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "core/util/error.h"
#include "profiles/isf/isf_loader.h"
#include "core/types/profile_format.h"
#include "profiles/cache/profile_cache.h"
#include "support/fixtures.h"
#include "support/profile_model.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

// Everything a lookup can observe: the transcripts of every lookup.
void require_same_model(const Profile& a, const Profile& b) {
  REQUIRE(a.types().size() == b.types().size());
  REQUIRE(a.symbols().size() == b.symbols().size());
  CHECK(test::profile_transcript(a) == test::profile_transcript(b));
}

std::string small_isf(const std::string& symbol_name = "jiffies") {
  return R"({"metadata": {"format": "6.2.0", "producer": {"name": "test", "version": "1.0.0"}},
  "base_types": {"int": {"size": 4, "signed": true, "kind": "int", "endian": "little"},
                 "pointer": {"size": 8, "signed": false, "kind": "int", "endian": "little"}},
  "user_types": {"s": {"kind": "struct", "size": 16, "fields": {
      "a": {"type": {"kind": "base", "name": "int"}, "offset": 4},
      "p": {"type": {"kind": "pointer", "subtype": {"kind": "struct", "name": "s"}}, "offset": 8},
      "u": {"type": {"kind": "union", "name": "anon"}, "offset": 0, "anonymous": true}}},
    "anon": {"kind": "union", "size": 4, "fields": {"inner": {"type": {"kind": "base", "name": "int"}, "offset": 0}}}},
  "enums": {"e": {"size": 4, "base": "int", "constants": {"A": 1, "B": -2}}},
  "symbols": {")" + symbol_name +
         R"(": {"address": 18446744071562067968, "type": {"kind": "base", "name": "int"}},
              "linux_banner": {"address": 1, "constant_data": "TGludXggdmVyc2lvbiBzbWFsbAoA"}}})";
}

std::string read_all(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), {});
}

void write_all(const std::string& path, std::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), std::streamsize(bytes.size()));
}

}  // namespace

TEST_CASE("cache: store / load round trip of a small profile") {
  test::TempDir cache_dir("profile-cache-small");
  test::TempFile isf("cache-small.json");
  isf.write(small_isf());
  auto parsed = parse_isf_file(isf.path());
  SourceKey key = source_key(isf.path());
  CHECK(key.path == fs::absolute(isf.path()).lexically_normal().string());
  CHECK(parsed->source_identity() == key.identity);

  ProfileCache cache(cache_dir.path());
  std::string why;
  REQUIRE(cache.store(key, *parsed, &why));
  auto loaded = cache.load(key, &why);
  INFO(why);
  REQUIRE(loaded);
  require_same_model(*parsed, *loaded);
  // The entry is the profile's buffer, as it is.
  CHECK(loaded->origin() == cache.entry_path(key));
  CHECK(fs::file_size(cache.entry_path(key)) == parsed->bytes().size());
  CHECK(loaded->offset_of("s", "inner") == 0);
  CHECK(loaded->require_symbol("jiffies") == 18446744071562067968ull);
  CHECK(loaded->enum_constant("e", "B") == -2);
  CHECK(loaded->banner() == "Linux version small");
  CHECK(loaded->nearest_symbol(18446744071562067968ull + 5) == loaded->find_symbol("jiffies"));
  loaded->verify();

  // Bound to its source: another version of the file is a miss.
  SourceKey other = key;
  other.identity.ctime_ns += 1;
  CacheLookup stale = cache.lookup(other);
  CHECK_FALSE(stale.profile);
  CHECK(stale.miss == CacheMiss::kStale);
  CHECK_THAT(stale.why, Catch::Contains("another version"));
  // A profile is only stored under the key of the file it was made from.
  CHECK_FALSE(cache.store(other, *parsed, &why));
  CHECK_THAT(why, Catch::Contains("not made from this version"));
}

TEST_CASE("cache: damaged entries are refused at open or by verify / never trusted blindly") {
  test::TempDir cache_dir("profile-cache-damage");
  test::TempFile isf("cache-damage.json");
  isf.write(small_isf());
  auto parsed = parse_isf_file(isf.path());
  SourceKey key = source_key(isf.path());
  ProfileCache cache(cache_dir.path());
  REQUIRE(cache.store(key, *parsed));
  const std::string entry = cache.entry_path(key);
  const std::string good = read_all(entry);

  // Any flipped byte: refused when opened (header and directory) or by
  // verify (tables); lookups on an opened one never crash.
  size_t refused_at_open = 0, refused_by_verify = 0, accepted = 0;
  for (size_t at = 0; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] ^= 0x5a;
    write_all(entry, bad);
    CacheLookup hit = cache.lookup(key);
    if (!hit.profile) {
      CHECK(hit.miss == CacheMiss::kDamaged);
      CHECK_THAT(hit.why, Catch::Contains(entry));
      ++refused_at_open;
      continue;
    }
    test::exercise_profile(*hit.profile);
    try {
      hit.profile->verify();
      ++accepted;  // a padding byte
    } catch (const FormatError& e) {
      CHECK_THAT(e.what(), Catch::Contains(entry));
      ++refused_by_verify;
    }
  }
  CHECK(refused_at_open > 0);
  CHECK(refused_by_verify > 0);
  CHECK(accepted * 10 < refused_at_open + refused_by_verify);
  // Truncated or padded: refused at open.
  for (size_t n : {size_t(1), size_t(39), size_t(40), good.size() / 2, good.size() - 1}) {
    write_all(entry, good.substr(0, n));
    CHECK(cache.lookup(key).miss == CacheMiss::kDamaged);
  }
  write_all(entry, good + "xxxxxxxx");
  CHECK(cache.lookup(key).miss == CacheMiss::kDamaged);
  // A header claiming a table far beyond the entry (checksum redone).
  std::string huge = good;
  uint64_t absurd = uint64_t(1) << 60;
  std::memcpy(huge.data() + 96 + 40 + 16, &absurd, 8);  // table 2 (strings): length
  uint64_t checksum = memscope::profile_format::header_checksum(reinterpret_cast<const uint8_t*>(huge.data()));
  std::memcpy(huge.data() + 88, &checksum, 8);
  write_all(entry, huge);
  CacheLookup lie = cache.lookup(key);
  CHECK(lie.miss == CacheMiss::kDamaged);
  CHECK_THAT(lie.why, Catch::Contains("outside"));
}

TEST_CASE("cache: load_profile stores / reuses and repairs entries") {
  test::TempDir cache_dir("profile-cache");
  test::TempFile isf("cache-load.json");
  isf.write(small_isf());
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  std::vector<std::string> warnings;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  ProfileCache cache(cache_dir.path());

  auto first = load_profile(isf.path(), options);
  SourceKey key = source_key(isf.path());
  std::string entry = cache.entry_path(key);
  REQUIRE(fs::exists(entry));
  CHECK(cache.cached_banner(key) == "Linux version small");
  auto from_cache = cache.load(key);
  REQUIRE(from_cache);
  require_same_model(*first, *from_cache);

  CHECK(load_profile(isf.path(), options)->origin() == entry);  // the second load maps the entry
  CHECK(warnings.empty());

  // A damaged entry: load_profile parses again, rewrites it and warns.
  std::string bytes = read_all(entry);
  bytes[50] ^= 1;  // in the header's record of the source
  write_all(entry, bytes);
  std::string why;
  CHECK_FALSE(cache.load(key, &why));
  CHECK_THAT(why, Catch::Contains("checksum"));
  auto repaired = load_profile(isf.path(), options);
  require_same_model(*first, *repaired);
  CHECK(cache.load(key));
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains(entry) && Catch::Contains("checksum") && Catch::Contains("rebuilding"));

  // Garbage in place of the entry: the same.
  write_all(entry, "not a cache entry at all");
  CHECK_FALSE(cache.load(key));
  CHECK_FALSE(cache.cached_banner(key));
  CHECK(load_profile(isf.path(), options)->banner() == "Linux version small");
  CHECK(warnings.size() == 2);

  // The source changes (same path): the old entry is stale and replaced.
  isf.write(small_isf("jiffies_64"));
  ::utime(isf.path().c_str(), nullptr);
  SourceKey new_key = source_key(isf.path());
  CHECK_FALSE(new_key == key);
  CHECK_FALSE(cache.load(new_key));
  auto changed = load_profile(isf.path(), options);
  CHECK(changed->symbol("jiffies_64"));
  CHECK_FALSE(changed->symbol("jiffies"));
  CHECK(cache.load(new_key));
  CHECK(warnings.size() == 2);  // a stale entry is no damage: no warning

  // Without the cache nothing is written.
  test::TempDir unused("profile-cache-unused");
  LoadOptions no_cache;
  no_cache.use_cache = false;
  no_cache.cache_dir = unused.path();
  load_profile(isf.path(), no_cache);
  CHECK(fs::is_empty(unused.path()));
}

TEST_CASE("cache: an entry of another format version is stale / rebuilt without a warning") {
  test::TempDir cache_dir("profile-cache-version");
  test::TempFile isf("cache-version.json");
  isf.write(small_isf());
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  std::vector<std::string> warnings;
  options.warn = [&](const std::string& w) { warnings.push_back(w); };
  load_profile(isf.path(), options);
  ProfileCache cache(cache_dir.path());
  SourceKey key = source_key(isf.path());
  std::string entry = cache.entry_path(key);
  std::string bytes = read_all(entry);
  uint32_t old_version = 1;
  std::memcpy(bytes.data() + 8, &old_version, 4);
  write_all(entry, bytes);
  CacheLookup lookup = cache.lookup(key);
  CHECK(lookup.miss == CacheMiss::kStale);
  CHECK_THAT(lookup.why, Catch::Contains("format version 1"));
  CHECK(load_profile(isf.path(), options)->banner() == "Linux version small");
  CHECK(warnings.empty());
  CHECK(cache.load(key));
}

TEST_CASE("cache: touching the source invalidates its entry") {
  test::TempDir cache_dir("profile-cache-touch");
  test::TempFile isf("cache-touch.json");
  isf.write(small_isf());
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  ProfileCache cache(cache_dir.path());
  load_profile(isf.path(), options);
  SourceKey before = source_key(isf.path());
  REQUIRE(cache.load(before));

  // Timestamps move in clock ticks: let one pass.
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  REQUIRE(::utimensat(AT_FDCWD, isf.path().c_str(), nullptr, 0) == 0);
  SourceKey after = source_key(isf.path());
  CHECK(after.identity.mtime_ns != before.identity.mtime_ns);
  CacheLookup lookup = cache.lookup(after);
  CHECK(lookup.miss == CacheMiss::kStale);
  CHECK(load_profile(isf.path(), options)->origin() != cache.entry_path(after));  // parsed again
  CHECK(load_profile(isf.path(), options)->origin() == cache.entry_path(after));  // and cached again
}

TEST_CASE("cache: a same-size edit with the mtime put back is seen through the ctime") {
  test::TempDir cache_dir("profile-cache-ctime");
  test::TempFile isf("cache-ctime.json");
  isf.write(small_isf("jiffies"));
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  ProfileCache cache(cache_dir.path());
  REQUIRE(load_profile(isf.path(), options)->symbol("jiffies"));
  struct stat original {};
  REQUIRE(::stat(isf.path().c_str(), &original) == 0);

  // The same number of bytes, changed in the middle, and the modification
  // time put back as it was (what `touch -r` or a careless tool does).
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::string edited = small_isf("jiffiez");
  REQUIRE(edited.size() == small_isf("jiffies").size());
  isf.write(edited);
  const struct timespec times[2] = {original.st_atim, original.st_mtim};
  REQUIRE(::utimensat(AT_FDCWD, isf.path().c_str(), times, 0) == 0);
  SourceKey key = source_key(isf.path());
  CHECK(key.identity.size == uint64_t(original.st_size));
  CHECK(key.identity.mtime_ns == int64_t(original.st_mtim.tv_sec) * 1000000000LL + original.st_mtim.tv_nsec);

  CHECK(cache.lookup(key).miss == CacheMiss::kStale);
  auto reloaded = load_profile(isf.path(), options);
  CHECK(reloaded->symbol("jiffiez"));
  CHECK_FALSE(reloaded->symbol("jiffies"));
}

TEST_CASE("cache: a source replaced by another file is another source") {
  test::TempDir cache_dir("profile-cache-replace");
  test::TempDir dir("profile-cache-replace-src");
  std::string path = dir.file("kernel.json");
  write_all(path, small_isf("jiffies"));
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  REQUIRE(load_profile(path, options)->symbol("jiffies"));
  write_all(dir.file("new.json"), small_isf("jiffiez"));
  fs::rename(dir.file("new.json"), path);
  auto reloaded = load_profile(path, options);
  CHECK(reloaded->symbol("jiffiez"));
  CHECK(ProfileCache(cache_dir.path()).load(source_key(path)));
}

TEST_CASE("cache: an unwritable cache directory only costs speed") {
  test::TempFile isf("cache-ro.json");
  isf.write(small_isf());
  test::TempFile not_a_dir("cache-file");
  not_a_dir.write("x");
  LoadOptions options;
  options.cache_dir = not_a_dir.path() + "/sub";
  CHECK(load_profile(isf.path(), options)->banner() == "Linux version small");
  std::string why;
  CHECK_FALSE(ProfileCache(options.cache_dir).store(source_key(isf.path()), *parse_isf_file(isf.path()), &why));
  CHECK_FALSE(why.empty());
}

TEST_CASE("cache: the fixture profile loads identically from the cache") {
  std::string path = test::fixture_file("isf.json.xz");
  test::TempDir cache_dir("profile-cache-fixture");
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  auto parsed = load_profile(path, options);  // parses and stores
  ProfileCache cache(cache_dir.path());
  std::string why;
  auto cached = cache.load(source_key(path), &why);
  INFO(why);
  REQUIRE(cached);
  require_same_model(*parsed, *cached);
  auto again = load_profile(path, options);
  for (const char* member : {"tasks", "pid", "comm", "mm", "thread.sp", "__state"})
    CHECK(again->offset_of("task_struct", member) == parsed->offset_of("task_struct", member));
  CHECK(again->offset_of("mm_struct", "arg_start") == parsed->offset_of("mm_struct", "arg_start"));
  CHECK(again->require_symbol("init_task") == parsed->require_symbol("init_task"));
  CHECK(again->banner() == test::truth()["linux_banner"].get<std::string>());
  CHECK(cache.cached_banner(source_key(path)) == again->banner());
}

TEST_CASE("cache: profile info --verify checks an entry and rebuilds a damaged one") {
  test::TempDir home("profile-cache-cli");
  test::TempFile isf("cache-cli.json");
  isf.write(small_isf());
  // The command's output and status, with the cache in `home`.
  auto run = [&](const std::string& arguments, std::string& output) {
    std::string command = "XDG_CACHE_HOME='" + home.path() + "' '" + MEMSCOPE_CLI_PATH + "' profile info " +
                          arguments + " 2>&1";
    FILE* pipe = ::popen(command.c_str(), "r");
    REQUIRE(pipe);
    output.clear();
    char buffer[4096];
    size_t n;
    while ((n = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, n);
    return ::pclose(pipe);
  };
  std::string out;
  REQUIRE(run("'" + isf.path() + "' --verify", out) == 0);
  CHECK_THAT(out, Catch::Contains("verified:") && Catch::Contains("parsed"));
  REQUIRE(run("'" + isf.path() + "' --verify", out) == 0);
  CHECK_THAT(out, Catch::Contains("mapped from"));

  // A damaged table in the entry: the entry file itself is refused...
  ProfileCache cache(home.path() + "/memscope/profiles");
  std::string entry = cache.entry_path(source_key(isf.path()));
  std::string bytes = read_all(entry);
  bytes[bytes.size() - 1] ^= 1;
  write_all(entry, bytes);
  CHECK(run("'" + entry + "' --verify", out) != 0);
  CHECK_THAT(out, Catch::Contains(entry) && Catch::Contains("checksum"));
  // ...and through its ISF, rebuilt with a warning.
  CHECK(run("'" + isf.path() + "' --verify", out) == 0);
  CHECK_THAT(out, Catch::Contains("warning") && Catch::Contains("rebuilding") && Catch::Contains("verified:"));
  REQUIRE(run("'" + entry + "' --verify", out) == 0);
  CHECK_THAT(out, Catch::Contains("Linux version small"));
}

TEST_CASE("cache: the default directory follows XDG_CACHE_HOME") {
  test::TempDir home("xdg-cache");
  const char* saved = std::getenv("XDG_CACHE_HOME");
  std::string previous = saved ? saved : "";
  ::setenv("XDG_CACHE_HOME", home.path().c_str(), 1);
  CHECK(default_cache_dir() == home.path() + "/memscope/profiles");
  if (saved) ::setenv("XDG_CACHE_HOME", previous.c_str(), 1);
  else ::unsetenv("XDG_CACHE_HOME");
}

TEST_CASE("cache: pruning drops entries of vanished sources / leftovers and the oldest") {
  test::TempDir cache_dir("profile-cache-prune");
  ProfileCache cache(cache_dir.path());
  std::vector<std::unique_ptr<test::TempFile>> sources;
  for (int i = 0; i < 4; ++i) {
    sources.push_back(std::make_unique<test::TempFile>("prune-" + std::to_string(i) + ".json"));
    sources.back()->write(small_isf());
    REQUIRE(cache.store(source_key(sources.back()->path()), *parse_isf_file(sources.back()->path())));
  }
  auto entry_count = [&] {
    size_t n = 0;
    for (const auto& e : fs::directory_iterator(cache_dir.path())) n += e.path().extension() == ".msprof";
    return n;
  };
  CHECK(entry_count() == 4);

  // A source that disappears takes its entry with it at the next prune.
  std::string gone_entry = cache.entry_path(source_key(sources[0]->path()));
  sources[0].reset();
  write_all(cache_dir.file("garbage.msprof"), "not an entry");
  write_all(cache_dir.file("unrelated.txt"), "left alone");
  CHECK(cache.prune() == 2);
  CHECK_FALSE(fs::exists(gone_entry));
  CHECK(fs::exists(cache_dir.file("unrelated.txt")));
  CHECK(entry_count() == 3);

  // Over the limit, the least recently written go first; `keep` stays.
  std::string newest = cache.entry_path(source_key(sources[3]->path()));
  std::string oldest = cache.entry_path(source_key(sources[1]->path()));
  fs::last_write_time(oldest, fs::last_write_time(newest) - std::chrono::hours(2));
  CHECK(cache.prune(2, newest) == 1);
  CHECK_FALSE(fs::exists(oldest));
  CHECK(fs::exists(newest));
  CHECK(entry_count() == 2);
}
