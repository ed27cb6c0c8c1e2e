// The binary profile cache: a cached load gives the same model; stale,
// damaged or forged entries are misses that fall back to parsing.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <utime.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/util/error.h"
#include "profiles/isf/isf_loader.h"
#include "profiles/cache/profile_cache.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
namespace fs = std::filesystem;

namespace {

// Everything a lookup can observe, compared table by table.
void require_same_model(const Profile& a, const Profile& b) {
  REQUIRE(a.metadata().source_path == b.metadata().source_path);
  REQUIRE(a.banner() == b.banner());
  REQUIRE(a.metadata().format_version == b.metadata().format_version);
  REQUIRE(a.metadata().producer_name == b.metadata().producer_name);
  REQUIRE(a.pointer_size() == b.pointer_size());
  REQUIRE(a.types().size() == b.types().size());
  REQUIRE(a.symbols().size() == b.symbols().size());
  REQUIRE(a.member_count() == b.member_count());
  REQUIRE(a.enumerator_count() == b.enumerator_count());
  size_t differences = 0;
  for (size_t i = 0; i < a.types().size(); ++i) {
    const TypeInfo& x = a.types()[i];
    const TypeInfo& y = b.types()[i];
    bool same = x.kind == y.kind && x.base == y.base && x.is_signed == y.is_signed && x.defined == y.defined &&
                x.name == y.name && x.size == y.size && x.count == y.count && x.target == y.target &&
                x.bit_position == y.bit_position && x.bit_length == y.bit_length;
    auto ma = a.members(x), mb = b.members(y);
    same = same && ma.size() == mb.size();
    for (size_t m = 0; same && m < ma.size(); ++m)
      same = ma[m].name == mb[m].name && ma[m].offset == mb[m].offset && ma[m].type == mb[m].type &&
             ma[m].anonymous == mb[m].anonymous;
    auto ea = a.enumerators(x), eb = b.enumerators(y);
    same = same && ea.size() == eb.size();
    for (size_t e = 0; same && e < ea.size(); ++e) same = ea[e].name == eb[e].name && ea[e].value == eb[e].value;
    differences += !same;
  }
  CHECK(differences == 0);
  differences = 0;
  for (size_t i = 0; i < a.symbols().size(); ++i) {
    const SymbolInfo& x = a.symbols()[i];
    const SymbolInfo& y = b.symbols()[i];
    differences += !(x.name == y.name && x.address == y.address && x.type == y.type);
  }
  CHECK(differences == 0);
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

TEST_CASE("cache: encode/decode round trip of a small profile") {
  test::TempFile isf("cache-small.json");
  isf.write(small_isf());
  auto parsed = parse_isf_file(isf.path());
  SourceKey key = source_key(isf.path());
  CHECK(key.path == fs::absolute(isf.path()).lexically_normal().string());

  std::string bytes = encode_profile(*parsed, key);
  std::string why;
  auto decoded = decode_profile(bytes, key, &why);
  INFO(why);
  REQUIRE(decoded);
  require_same_model(*parsed, *decoded);
  CHECK(decoded->offset_of("s", "inner") == 0);
  CHECK(decoded->require_symbol("jiffies") == 18446744071562067968ull);
  CHECK(decoded->enum_constant("e", "B") == -2);
  CHECK(decoded->banner() == "Linux version small");

  // Bound to its source: another key is a miss.
  SourceKey other = key;
  other.mtime_ns += 1;
  CHECK_FALSE(decode_profile(bytes, other, &why));
  CHECK_THAT(why, Catch::Contains("another version"));
}

TEST_CASE("cache: every damaged entry is rejected / never trusted") {
  test::TempFile isf("cache-damage.json");
  isf.write(small_isf());
  auto parsed = parse_isf_file(isf.path());
  SourceKey key = source_key(isf.path());
  const std::string good = encode_profile(*parsed, key);
  std::string why;

  // Any single flipped byte, anywhere, and any truncation: a miss.
  size_t accepted = 0;
  for (size_t at = 0; at < good.size(); at += 7) {
    std::string bad = good;
    bad[at] ^= 0x5a;
    accepted += decode_profile(bad, key, &why) != nullptr;
  }
  CHECK(accepted == 0);
  for (size_t n : {size_t(0), size_t(1), size_t(39), size_t(40), good.size() / 2, good.size() - 1})
    CHECK_FALSE(decode_profile(std::string_view(good).substr(0, n), key, &why));
  CHECK_FALSE(decode_profile(good + "x", key, &why));

  // A forged entry with correct checksums but a wild type reference: the
  // structural checks catch what checksums cannot.
  std::string forged = good;
  uint64_t types_offset;
  std::memcpy(&types_offset, forged.data() + 40 + 3 * 24 + 8, 8);  // section 4 (types): offset
  uint32_t wild = 0x7ffffff0;
  std::memcpy(forged.data() + types_offset + 16, &wild, 4);  // type 0: target
  uint64_t payload = hash_bytes(forged.data() + 256, forged.size() - 256);
  std::memcpy(forged.data() + 32, &payload, 8);
  CHECK_FALSE(decode_profile(forged, key, &why));
  CHECK_THAT(why, Catch::Contains("type"));

  // A header claiming sections far beyond the entry.
  std::string huge = good;
  uint64_t absurd = uint64_t(1) << 60;
  std::memcpy(huge.data() + 40 + 24 + 16, &absurd, 8);  // section 2: size
  CHECK_FALSE(decode_profile(huge, key, &why));
  CHECK_THAT(why, Catch::Contains("outside"));
}

TEST_CASE("cache: load_profile stores / reuses and repairs entries") {
  test::TempDir cache_dir("profile-cache");
  test::TempFile isf("cache-load.json");
  isf.write(small_isf());
  LoadOptions options;
  options.cache_dir = cache_dir.path();
  ProfileCache cache(cache_dir.path());

  auto first = load_profile(isf.path(), options);
  SourceKey key = source_key(isf.path());
  std::string entry = cache.entry_path(key);
  REQUIRE(fs::exists(entry));
  CHECK(cache.cached_banner(key) == "Linux version small");
  auto from_cache = cache.load(key);
  REQUIRE(from_cache);
  require_same_model(*first, *from_cache);

  // A damaged entry: load_profile parses again and rewrites it.
  std::string bytes = read_all(entry);
  bytes[bytes.size() / 2] ^= 1;
  write_all(entry, bytes);
  std::string why;
  CHECK_FALSE(cache.load(key, &why));
  CHECK_THAT(why, Catch::Contains("checksum"));
  auto repaired = load_profile(isf.path(), options);
  require_same_model(*first, *repaired);
  CHECK(cache.load(key));

  // Garbage in place of the entry: the same.
  write_all(entry, "not a cache entry at all");
  CHECK_FALSE(cache.load(key));
  CHECK_FALSE(cache.cached_banner(key));
  CHECK(load_profile(isf.path(), options)->banner() == "Linux version small");

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

  // Without the cache nothing is written.
  test::TempDir unused("profile-cache-unused");
  LoadOptions no_cache;
  no_cache.use_cache = false;
  no_cache.cache_dir = unused.path();
  load_profile(isf.path(), no_cache);
  CHECK(fs::is_empty(unused.path()));
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
