// The profile format used in place: a profile built in memory, written to a
// file and mapped back answers every lookup alike; a forged or damaged file
// is refused at open (header) or by verify (tables), and no lookup on it
// crashes or reads out of bounds (run these under the sanitizer build).
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <random>

#include "core/types/profile.h"
#include "core/types/profile_format.h"
#include "core/util/error.h"
#include "profiles/cache/profile_cache.h"
#include "profiles/isf/isf_loader.h"
#include "support/fixtures.h"
#include "support/profile_model.h"
#include "support/temp_file.h"

using namespace memscope;
namespace pf = memscope::profile_format;

namespace {

// --- Synthetic profiles -----------------------------------------------------

// A profile with every kind of type, anonymous members nested two deep,
// names shared between namespaces, undefined types, enumerators of every
// sign, aliased and duplicated symbols: random but reproducible by seed.
std::shared_ptr<const Profile> synthetic_profile(uint32_t seed) {
  std::mt19937 rng(seed);
  auto pick = [&](uint32_t n) { return uint32_t(rng() % n); };
  ProfileBuilder b("/synthetic/profile-" + std::to_string(seed) + ".json");
  b.metadata().banner = "Linux version synthetic " + std::to_string(seed);
  b.metadata().os = "linux";
  b.metadata().producer_name = "test";
  b.metadata().format_version = "6.2.0";
  b.set_source_identity(FileIdentity{1, seed, 100, 2, 3});
  TypeRef chr = b.named(TypeKind::kBase, "char");
  b.define_base(chr, 1, BaseKind::kChar, true);
  TypeRef i32 = b.named(TypeKind::kBase, "int");
  b.define_base(i32, 4, BaseKind::kInt, true);
  TypeRef u32 = b.named(TypeKind::kBase, "unsigned int");
  b.define_base(u32, 4, BaseKind::kInt, false);
  TypeRef u64 = b.named(TypeKind::kBase, "long unsigned int");
  b.define_base(u64, 8, BaseKind::kInt, false);
  TypeRef voidt = b.named(TypeKind::kBase, "void");
  b.define_base(voidt, 0, BaseKind::kVoid, false);
  std::vector<TypeRef> scalars = {chr, i32, u32, u64};

  const uint32_t enums = seed % 5 == 0 ? 0 : 1 + pick(6);
  for (uint32_t e = 0; e < enums; ++e) {
    TypeRef en = b.named(TypeKind::kEnum, "e" + std::to_string(e));
    b.define_enum(en, 4, e % 2 ? u32 : i32);
    for (uint32_t k = 0, n = pick(6); k < n; ++k)
      b.add_enumerator(en, "E" + std::to_string(e) + "_" + std::to_string(k),
                       k % 3 == 0 ? -int64_t(k) : k % 3 == 1 ? int64_t(k) : int64_t(0x8000000000000000ull >> k));
    scalars.push_back(en);
  }
  // One name in three namespaces.
  TypeRef dup_struct = b.named(TypeKind::kStruct, "dup");
  b.define_record(dup_struct, TypeKind::kStruct, 8);
  b.add_member(dup_struct, "x", 0, u64, false);
  TypeRef dup_enum = b.named(TypeKind::kEnum, "dup");
  b.define_enum(dup_enum, 4, i32);
  b.add_enumerator(dup_enum, "DUP_A", 7);

  const uint32_t records = seed % 5 == 0 ? 0 : 2 + pick(12);
  std::vector<TypeRef> structs;
  for (uint32_t r = 0; r < records; ++r) {
    TypeKind kind = pick(4) == 0 ? TypeKind::kUnion : TypeKind::kStruct;
    TypeRef rec = b.named(kind, "s" + std::to_string(r));
    uint64_t offset = 0;
    for (uint32_t m = 0, n = pick(9); m < n; ++m) {
      std::string name = "m" + std::to_string(pick(6));  // repeats: a record may hold one name twice
      TypeRef type;
      switch (pick(8)) {
        case 0: type = b.pointer_to(b.named(TypeKind::kStruct, "s" + std::to_string(pick(records)))); break;
        case 1: type = b.array_of(scalars[pick(uint32_t(scalars.size()))], pick(4)); break;
        case 2: type = b.bitfield(pick(2) ? u32 : i32, pick(8), 1 + pick(20)); break;
        case 3: type = b.pointer_to(b.named(TypeKind::kStruct, "opaque" + std::to_string(pick(3)))); break;
        case 4:
          if (!structs.empty()) {
            type = structs[pick(uint32_t(structs.size()))];  // embedded by value: an earlier one only
            break;
          }
          [[fallthrough]];
        case 5: {
          // An anonymous union holding an anonymous struct.
          TypeRef inner = b.named(TypeKind::kStruct, "anon_s" + std::to_string(r) + "_" + std::to_string(m));
          b.define_record(inner, TypeKind::kStruct, 8);
          b.add_member(inner, "deep" + std::to_string(pick(3)), 4, i32, false);
          b.add_member(inner, "m0", 0, i32, false);  // shadowed by a direct m0, if any
          TypeRef outer = b.named(TypeKind::kUnion, "anon_u" + std::to_string(r) + "_" + std::to_string(m));
          b.define_record(outer, TypeKind::kUnion, 8);
          b.add_member(outer, "", 0, inner, true);
          b.add_member(outer, "alt" + std::to_string(m), 0, u64, false);
          b.add_member(rec, "", offset, outer, true);
          offset += 8;
          continue;
        }
        case 6: type = b.function(); type = b.pointer_to(type); break;
        default: type = scalars[pick(uint32_t(scalars.size()))]; break;
      }
      b.add_member(rec, name, offset, type, false);
      offset += 8;
    }
    if (pick(8) != 0) b.define_record(rec, kind, offset);  // some stay declared only
    structs.push_back(rec);
  }

  const uint32_t symbols = seed % 5 == 0 ? 0 : pick(40);
  for (uint32_t s = 0; s < symbols; ++s) {
    uint64_t address = pick(3) == 0 ? 0xffffffff81000000ull + pick(4) * 16 : 0xffffffff80000000ull + rng();
    if (s % 7 == 0) address = 0;
    if (s % 11 == 0) address = ~uint64_t(0);
    TypeRef type = pick(2) ? scalars[pick(uint32_t(scalars.size()))] : TypeRef();
    b.add_symbol("sym" + std::to_string(pick(symbols)), address, type);  // duplicates: the last wins
  }
  // Other addresses of some names (System.map's static symbols of one
  // name), of names never given too, some twice or at the name's own address.
  for (uint32_t r = 0, n = symbols ? pick(12) : 0; r < n; ++r) {
    std::string name = pick(4) ? "sym" + std::to_string(pick(symbols)) : "rep" + std::to_string(pick(3));
    b.add_symbol_repeat(name, pick(3) == 0 ? 0xffffffff81000000ull + pick(4) * 16 : 0xffffffff80000000ull + rng());
  }
  b.add_symbol("linux_banner", 0xffffffff82000000ull, b.array_of(chr, 0));
  return b.finish();
}

// --- Buffers to forge -------------------------------------------------------

// A copy of a profile's bytes, 8-byte aligned as Profile::open needs.
struct Buffer {
  std::shared_ptr<uint64_t[]> words;
  size_t size = 0;
  uint8_t* data() const { return reinterpret_cast<uint8_t*>(words.get()); }
  std::span<const uint8_t> bytes() const { return {data(), size}; }
};

Buffer copy_of(std::span<const uint8_t> bytes) {
  Buffer b;
  b.size = bytes.size();
  b.words = std::make_shared<uint64_t[]>((bytes.size() + 7) / 8 + 1);
  std::memcpy(b.data(), bytes.data(), bytes.size());
  return b;
}

std::shared_ptr<const Profile> open_forged(const Buffer& b, size_t size) {
  return Profile::open(b.words, std::span<const uint8_t>(b.data(), size), "forged.msprof");
}
std::shared_ptr<const Profile> open_forged(const Buffer& b) { return open_forged(b, b.size); }

pf::TableEntry table(const Buffer& b, pf::TableId id) {
  pf::TableEntry entry;
  std::memcpy(&entry, b.data() + sizeof(pf::Header) + (id - 1) * sizeof(pf::TableEntry), sizeof entry);
  return entry;
}
// Writes `entry` into the directory's slot for table `slot` (its own id by default).
void set_table(Buffer& b, const pf::TableEntry& entry, uint32_t slot = 0) {
  if (!slot) slot = entry.id;
  std::memcpy(b.data() + sizeof(pf::Header) + (slot - 1) * sizeof(pf::TableEntry), &entry, sizeof entry);
}
pf::Header header(const Buffer& b) {
  pf::Header h;
  std::memcpy(&h, b.data(), sizeof h);
  return h;
}
void set_header(Buffer& b, const pf::Header& h) { std::memcpy(b.data(), &h, sizeof h); }

// Recomputes every table checksum and the header's: a forgery that
// checksums cannot catch, for the structural checks.
void reseal(Buffer& b) {
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    pf::TableEntry entry = table(b, pf::TableId(id));
    if (entry.offset <= b.size && entry.length <= b.size - entry.offset) {
      entry.checksum = pf::table_checksum(b.data() + entry.offset, entry.length);
      set_table(b, entry, id);
    }
  }
  pf::Header h = header(b);
  h.header_checksum = pf::header_checksum(b.data());
  set_header(b, h);
}

template <typename T>
T* record(Buffer& b, pf::TableId id, size_t index) {
  return reinterpret_cast<T*>(b.data() + table(b, id).offset) + index;
}

void write_file(const std::string& path, std::span<const uint8_t> bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

// The first line where two transcripts differ, for a readable failure.
std::string first_difference(const std::string& a, const std::string& b) {
  size_t at = 0;
  while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
  size_t line = a.rfind('\n', at == 0 ? 0 : at - 1);
  line = line == std::string::npos ? 0 : line + 1;
  return "built:  " + a.substr(line, a.find('\n', line) - line) + "\nmapped: " + b.substr(line, b.find('\n', line) - line);
}

void require_same_answers(const Profile& built, const std::string& file) {
  write_file(file, built.bytes());
  auto mapped = open_profile_file(file);
  CHECK(mapped->origin() == file);
  REQUIRE(mapped->bytes().size() == built.bytes().size());
  CHECK(std::equal(mapped->bytes().begin(), mapped->bytes().end(), built.bytes().begin()));
  CHECK(mapped->source_identity() == built.source_identity());
  std::string a = test::profile_transcript(built);
  std::string b = test::profile_transcript(*mapped);
  INFO(first_difference(a, b));
  CHECK(a == b);
  built.verify();
  mapped->verify();
}

// Runs every lookup on a forged profile; it may throw Errors, nothing else.
void exercise(const Profile& p) {
  CHECK_NOTHROW(test::exercise_profile(p));
}

}  // namespace

TEST_CASE("format: built and mapped profiles answer every lookup alike (synthetic)") {
  test::TempDir dir("profile-format");
  for (uint32_t seed = 1; seed <= 40; ++seed) {
    INFO("seed " << seed);
    auto built = synthetic_profile(seed);
    require_same_answers(*built, dir.file("synthetic.msprof"));
  }
}

TEST_CASE("format: an empty profile round-trips") {
  test::TempDir dir("profile-format-empty");
  auto built = ProfileBuilder("/empty").finish();
  CHECK(built->types().empty());
  CHECK(built->symbols().empty());
  CHECK(built->nearest_symbol(~uint64_t(0)) == nullptr);
  CHECK(built->find_type("int") == nullptr);
  require_same_answers(*built, dir.file("empty.msprof"));
}

TEST_CASE("format: built and mapped fixture profiles answer every lookup alike") {
  std::string path = test::fixture_file("isf.json.xz");
  test::TempDir dir("profile-format-fixture");
  auto built = parse_isf_file(path);
  require_same_answers(*built, dir.file("fixture.msprof"));
  CHECK(built->source_identity() == file_identity(path));
}

TEST_CASE("format: the synthetic profiles keep the builder's meaning") {
  auto p = synthetic_profile(3);
  // Names shared between namespaces: structs first, then enums.
  CHECK(p->find_type("dup")->kind == TypeKind::kStruct);
  CHECK(p->find_type("enum dup")->kind == TypeKind::kEnum);
  CHECK(p->enum_constant("dup", "DUP_A") == 7);
  // Undefined types exist but are not found.
  CHECK(p->find_type("opaque0") == nullptr);
  // Symbols: sorted; a name twice only as a repeat at another address.
  for (size_t i = 1; i < p->symbols().size(); ++i) {
    const SymbolInfo& before = p->symbols()[i - 1];
    const SymbolInfo& s = p->symbols()[i];
    if (s.repeat()) {
      CHECK(p->name(before) == p->name(s));
      CHECK(before.address != s.address);
    } else {
      CHECK(p->name(before) < p->name(s));
    }
  }
}

TEST_CASE("format: a name's other addresses are found by address / the name keeps the last given") {
  ProfileBuilder b("/repeats");
  b.add_symbol("watchdog", 0x5000);          // a variable
  b.add_symbol_repeat("watchdog", 0x2000);   // a static function of that name
  b.add_symbol_repeat("watchdog", 0x2000);   // listed twice: kept once
  b.add_symbol_repeat("watchdog", 0x5000);   // the name's own address: dropped
  b.add_symbol("before", 0x1f00);
  b.add_symbol_repeat("only_repeats", 0x3000);  // never given to add_symbol:
  b.add_symbol_repeat("only_repeats", 0x2800);  // its lowest address is its own
  auto p = b.finish();
  p->verify();
  auto near = [&](uint64_t address) -> std::pair<std::string, uint64_t> {
    const SymbolInfo* s = p->nearest_symbol(address);
    return s ? std::pair{std::string(p->name(*s)), s->address} : std::pair{std::string("-"), uint64_t(0)};
  };
  CHECK(near(0x1f80) == std::pair{std::string("before"), uint64_t(0x1f00)});
  CHECK(near(0x2010) == std::pair{std::string("watchdog"), uint64_t(0x2000)});
  CHECK(near(0x2900) == std::pair{std::string("only_repeats"), uint64_t(0x2800)});
  CHECK(near(0x3001) == std::pair{std::string("only_repeats"), uint64_t(0x3000)});
  CHECK(near(0x5001) == std::pair{std::string("watchdog"), uint64_t(0x5000)});
  CHECK(p->symbol("watchdog") == 0x5000);
  CHECK(p->symbol("only_repeats") == 0x2800);
  size_t repeats = 0;
  for (const SymbolInfo& s : p->symbols()) repeats += s.repeat();
  CHECK(repeats == 2);
  CHECK(p->symbols().size() == 5);

  // Mapped from a file, the same answers; a repeat whose name is not the
  // one before it, or with an unknown flag, is refused by verify.
  test::TempDir dir("profile-format-repeats");
  require_same_answers(*p, dir.file("repeats.msprof"));
  Buffer forged = copy_of(p->bytes());
  for (size_t i = 0; i < p->symbols().size(); ++i)
    if (!p->symbols()[i].repeat()) {
      record<SymbolInfo>(forged, pf::kSymbols, i)->flags = SymbolInfo::kRepeat;
      break;
    }
  reseal(forged);
  CHECK_THROWS_AS(open_forged(forged)->verify(), FormatError);
  Buffer flagged = copy_of(p->bytes());
  record<SymbolInfo>(flagged, pf::kSymbols, 0)->flags = 4;
  reseal(flagged);
  CHECK_THROWS_AS(open_forged(flagged)->verify(), FormatError);
}

TEST_CASE("format: nearest_symbol gives the symbol at or below an address") {
  ProfileBuilder b("/nearest");
  b.add_symbol("zeta", 0x1000);
  b.add_symbol("alpha", 0x1000);  // an alias: the first by name answers
  b.add_symbol("beta", 0x2000);
  b.add_symbol("gamma", 0x3000);
  b.add_symbol("top", ~uint64_t(0));
  b.add_symbol("beta", 0x2800);  // a duplicate name: the last given wins
  auto p = b.finish();
  auto near = [&](uint64_t address) -> std::string {
    const SymbolInfo* s = p->nearest_symbol(address);
    return s ? std::string(p->name(*s)) : "-";
  };
  CHECK(near(0) == "-");
  CHECK(near(0xfff) == "-");
  CHECK(near(0x1000) == "alpha");
  CHECK(near(0x1fff) == "alpha");
  CHECK(near(0x2000) == "alpha");
  CHECK(near(0x2800) == "beta");
  CHECK(near(0x3000) == "gamma");
  CHECK(near(~uint64_t(0) - 1) == "gamma");
  CHECK(near(~uint64_t(0)) == "top");
  CHECK(p->symbol("beta") == 0x2800);

  // Against a brute force on a random profile.
  auto r = synthetic_profile(7);
  std::mt19937_64 rng(7);
  for (int i = 0; i < 2000; ++i) {
    uint64_t at = i % 2 ? rng() : 0xffffffff80000000ull + (rng() & 0xffffffff);
    const SymbolInfo* best = nullptr;
    for (const SymbolInfo& s : r->symbols())
      if (s.address <= at && (!best || s.address > best->address)) best = &s;  // first by name among aliases
    CHECK(r->nearest_symbol(at) == best);
  }
}

TEST_CASE("format: opening reads the header only / verify reads the tables") {
  auto built = synthetic_profile(11);
  Buffer b = copy_of(built->bytes());
  // A damaged string pool: open does not look, verify does.
  pf::TableEntry strings = table(b, pf::kStrings);
  b.data()[strings.offset + strings.length - 1] ^= 0x40;
  auto p = open_forged(b);
  CHECK(p->banner() == built->banner());
  REQUIRE_THROWS_AS(p->verify(), FormatError);
  CHECK_THROWS_WITH(p->verify(), Catch::Contains("forged.msprof") && Catch::Contains("strings table checksum"));
}

TEST_CASE("format: truncated buffers and files are refused") {
  auto built = synthetic_profile(12);
  Buffer b = copy_of(built->bytes());
  std::vector<size_t> cuts = {0, 1, 7, 8, 12, 16, 95, 96, 97, pf::kHeaderSize - 1, pf::kHeaderSize, b.size - 1};
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    pf::TableEntry t = table(b, pf::TableId(id));
    for (size_t at : {t.offset, t.offset + t.length / 2, t.offset + t.length})
      if (at < b.size) cuts.push_back(at);
  }
  for (size_t at = 0; at < b.size; at += std::max<size_t>(1, b.size / 97)) cuts.push_back(at);
  for (size_t n : cuts) {
    INFO("truncated to " << n);
    CHECK_THROWS_AS(open_forged(b, n), FormatError);
  }
  // Through a file: the message names it.
  test::TempDir dir("profile-format-truncated");
  std::string path = dir.file("truncated.msprof");
  write_file(path, built->bytes().subspan(0, built->bytes().size() / 2));
  CHECK_THROWS_WITH(open_profile_file(path), Catch::Contains(path) && Catch::Contains("truncated"));
  write_file(path, std::span<const uint8_t>());
  CHECK_THROWS_AS(open_profile_file(path), Error);
  // Padded is refused as well.
  Buffer padded = copy_of(built->bytes());
  CHECK_THROWS_AS(open_forged(padded, padded.size + 8), FormatError);
}

TEST_CASE("format: any flipped byte of the header or directory is refused at open") {
  auto built = synthetic_profile(13);
  Buffer good = copy_of(built->bytes());
  for (size_t at = 0; at < pf::kHeaderSize; ++at) {
    Buffer b = copy_of(good.bytes());
    b.data()[at] ^= 0x21;
    INFO("byte " << at);
    CHECK_THROWS_AS(open_forged(b), FormatError);
  }
}

TEST_CASE("format: flipped table bytes are found by verify / no lookup crashes") {
  auto built = synthetic_profile(14);
  Buffer good = copy_of(built->bytes());
  size_t found = 0, tried = 0;
  const size_t step = std::max<size_t>(1, (good.size - pf::kHeaderSize) / 700) | 1;
  for (size_t at = pf::kHeaderSize; at < good.size; at += step) {
    for (uint8_t mask : {uint8_t(0x01), uint8_t(0x80), uint8_t(0xff)}) {
      Buffer b = copy_of(good.bytes());
      b.data()[at] ^= mask;
      ++tried;
      std::shared_ptr<const Profile> p;
      try {
        p = open_forged(b);  // the header is intact: only a metadata name that now lies is refused
      } catch (const FormatError&) {
        ++found;
        continue;
      }
      try {
        p->verify();
      } catch (const FormatError&) {
        ++found;
      }
      test::exercise_profile(*p);
    }
  }
  // Only the few padding bytes between tables are covered by no checksum.
  CHECK(found + 3 * 8 * (pf::kTableCount + 1) >= tried);
  CHECK(found > tried * 9 / 10);
}

TEST_CASE("format: lying offsets and counts are refused at open") {
  auto built = synthetic_profile(15);
  const Buffer good = copy_of(built->bytes());
  auto forged = [&](auto&& change) {
    Buffer b = copy_of(good.bytes());
    change(b);
    reseal(b);
    return b;
  };
  auto refused = [&](const Buffer& b, const char* words) {
    CHECK_THROWS_WITH(open_forged(b), Catch::Contains("forged.msprof") && Catch::Contains(words));
  };
  for (uint32_t id = 1; id <= pf::kTableCount; ++id) {
    INFO("table " << pf::kTableName[id]);
    pf::TableEntry t = table(good, pf::TableId(id));
    refused(forged([&](Buffer& b) { auto e = t; e.offset = good.size + 8; set_table(b, e); }), "outside the file");
    refused(forged([&](Buffer& b) { auto e = t; e.offset = ~uint64_t(7); set_table(b, e); }), "outside the file");
    refused(forged([&](Buffer& b) { auto e = t; e.offset += 4; set_table(b, e); }), "misaligned");
    refused(forged([&](Buffer& b) { auto e = t; e.offset = 8; set_table(b, e); }), "outside the file");
    refused(forged([&](Buffer& b) { auto e = t; e.length = good.size; set_table(b, e); }), "outside the file");
    refused(forged([&](Buffer& b) { auto e = t; e.count += 1; set_table(b, e); }), "cannot hold");
    refused(forged([&](Buffer& b) { auto e = t; e.count = uint64_t(1) << 61; set_table(b, e); }), "cannot hold");
    refused(forged([&](Buffer& b) { auto e = t; e.record_size += 8; set_table(b, e); }), "records of");
    refused(forged([&](Buffer& b) { auto e = t; e.id = id % pf::kTableCount + 1; set_table(b, e, id); }), "table id");
  }
  auto header_change = [&](auto&& change) {
    return forged([&](Buffer& b) {
      pf::Header h = header(b);
      change(h);
      set_header(b, h);
    });
  };
  refused(header_change([](pf::Header& h) { h.version += 1; }), "format version");
  refused(header_change([](pf::Header& h) { h.file_size += 8; }), "truncated or padded");
  refused(header_change([](pf::Header& h) { h.table_count = 200; }), "tables");
  refused(header_change([](pf::Header& h) { h.header_size = 8; }), "tables");
  refused(header_change([](pf::Header& h) { h.pointer_size = 0; }), "pointer size");
  refused(header_change([](pf::Header& h) { h.flags = 1; }), "flags");
  refused(header_change([](pf::Header& h) { h.magic[0] = 'X'; }), "magic");
  // Two tables that disagree.
  refused(forged([&](Buffer& b) {
            auto e = table(good, pf::kSymbolsByAddress);
            e.count -= 1;
            e.length -= sizeof(SymbolAddressEntry);
            set_table(b, e);
          }),
          "symbols-by-address");
  refused(forged([&](Buffer& b) {
            auto e = table(good, pf::kMetadata);
            e.count -= 1;
            e.length -= 8;
            set_table(b, e);
          }),
          "metadata");
}

TEST_CASE("format: a name past the string pool is a FormatError naming the file") {
  auto built = synthetic_profile(16);
  const Buffer good = copy_of(built->bytes());
  const uint64_t pool = table(good, pf::kStrings).length;
  for (StringRef bad : {StringRef{uint32_t(pool), 1}, StringRef{uint32_t(pool + 1), 0}, StringRef{0, uint32_t(pool + 1)},
                        StringRef{0xffffffffu, 0xffffffffu}}) {
    INFO("name [" << bad.offset << ", +" << bad.length << ")");
    {  // the banner, read at open
      Buffer b = copy_of(good.bytes());
      record<StringRef>(b, pf::kMetadata, pf::kBanner)[0] = bad;
      reseal(b);
      CHECK_THROWS_WITH(open_forged(b), Catch::Contains("forged.msprof") && Catch::Contains("string pool"));
    }
    {  // names in the named-type index: met by find_type's binary search
      Buffer b = copy_of(good.bytes());
      for (size_t i = 0; i < table(b, pf::kNamedTypes).count; ++i)
        record<NamedTypeEntry>(b, pf::kNamedTypes, i)->name = bad;
      reseal(b);
      auto p = open_forged(b);
      CHECK_THROWS_WITH(p->find_type("char"), Catch::Contains("forged.msprof") && Catch::Contains("string pool"));
      CHECK_THROWS_AS(p->verify(), FormatError);
      exercise(*p);
    }
    {  // a symbol's name
      Buffer b = copy_of(good.bytes());
      record<SymbolInfo>(b, pf::kSymbols, 0)->name = bad;
      reseal(b);
      auto p = open_forged(b);
      // The hash leads the search for symbol 0's own name to symbol 0.
      std::string first(built->name(built->symbols()[0]));
      CHECK_THROWS_WITH(p->find_symbol(first), Catch::Contains("string pool") && Catch::Contains("file offset"));
      CHECK_THROWS_AS(p->verify(), FormatError);
      exercise(*p);
    }
    {  // a member's name in a lookup table
      Buffer b = copy_of(good.bytes());
      size_t n = table(b, pf::kMemberLookup).count;
      for (size_t i = 0; i < n; ++i) record<MemberInfo>(b, pf::kMemberLookup, i)->name = bad;
      reseal(b);
      auto p = open_forged(b);
      CHECK_THROWS_AS(p->find_member(p->require_type("dup"), "x"), FormatError);
      CHECK_THROWS_AS(p->verify(), FormatError);
      exercise(*p);
    }
  }
}

TEST_CASE("format: indices out of range are errors / never reads") {
  auto built = synthetic_profile(17);
  const Buffer good = copy_of(built->bytes());
  const uint32_t dup = built->find_type("dup")->id.id;
  const uint32_t wild = 0x7ffffff0;
  struct Case {
    const char* what;
    std::function<void(Buffer&)> change;
    std::function<void(const Profile&)> lookup;
  };
  std::vector<Case> cases = {
      {"type target", [&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, dup)->target = TypeRef(wild); },
       [&](const Profile& p) { p.type(TypeRef(dup)); }},
      {"type id", [&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, dup)->id = TypeRef(dup + 1); },
       [&](const Profile& p) { p.require_type("dup"); }},
      {"type kind", [&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, dup)->kind = TypeKind(200); },
       [&](const Profile& p) { p.require_type("dup"); }},
      {"bitfield length",
       [&](Buffer& b) {
         auto* t = record<TypeInfo>(b, pf::kTypes, dup);
         t->kind = TypeKind::kBitfield;
         t->target = TypeRef(0);
         t->bit_length = 200;
       },
       [&](const Profile& p) { p.type(TypeRef(dup)); }},
      {"member range", [&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, dup)->members_end = wild; },
       [&](const Profile& p) { p.members(p.types()[dup]); }},
      {"member range reversed",
       [&](Buffer& b) {
         auto* t = record<TypeInfo>(b, pf::kTypes, dup);
         t->members_begin = t->members_end + 1;
       },
       [&](const Profile& p) { p.members(p.types()[dup]); }},
      {"lookup range", [&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, dup)->lookup_end = wild; },
       [&](const Profile& p) { p.find_member(p.types()[dup], "x"); }},
      {"enumerator range",
       [&](Buffer& b) {
         uint32_t e = built->find_type("enum dup")->id.id;
         record<TypeInfo>(b, pf::kTypes, e)->enumerators_end = wild;
       },
       [&](const Profile& p) { p.enum_constant("dup", "DUP_A"); }},
      {"named type index",
       [&](Buffer& b) {
         for (size_t i = 0; i < table(b, pf::kNamedTypes).count; ++i)
           record<NamedTypeEntry>(b, pf::kNamedTypes, i)->type = TypeRef(wild);
       },
       [&](const Profile& p) { p.find_type("char"); }},
      {"symbol by address",
       [&](Buffer& b) {
         for (size_t i = 0; i < table(b, pf::kSymbolsByAddress).count; ++i)
           record<SymbolAddressEntry>(b, pf::kSymbolsByAddress, i)->symbol = wild;
       },
       [&](const Profile& p) { p.nearest_symbol(~uint64_t(0)); }},
      {"symbol hash slot",
       [&](Buffer& b) {
         for (size_t i = 0; i < table(b, pf::kSymbolHash).count; ++i)
           if (record<SymbolHashSlot>(b, pf::kSymbolHash, i)->symbol) record<SymbolHashSlot>(b, pf::kSymbolHash, i)->symbol = wild;
       },
       [&](const Profile& p) { p.find_symbol("linux_banner"); }},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Buffer b = copy_of(good.bytes());
    c.change(b);
    reseal(b);
    auto p = open_forged(b);
    CHECK_THROWS_WITH(c.lookup(*p), Catch::Contains("forged.msprof") && Catch::Contains("corrupt profile"));
    CHECK_THROWS_AS(p->verify(), FormatError);
    exercise(*p);
  }
  // A member or symbol naming a type that does not exist: the type lookup says so.
  Buffer b = copy_of(good.bytes());
  record<MemberInfo>(b, pf::kMembers, built->types()[dup].members_begin)->type = TypeRef(wild);
  record<MemberInfo>(b, pf::kMemberLookup, built->types()[dup].lookup_begin)->type = TypeRef(wild);
  record<SymbolInfo>(b, pf::kSymbols, 0)->type = TypeRef(wild);
  reseal(b);
  auto p = open_forged(b);
  CHECK_THROWS_AS(p->type(p->field("dup", "x").type), ProfileError);
  CHECK_THROWS_AS(p->offset_of("dup", "x.y"), ProfileError);
  CHECK_THROWS_AS(p->type(p->symbols()[0].type), ProfileError);
  CHECK_THROWS_WITH(p->verify(), Catch::Contains("out of range"));
  exercise(*p);
}

TEST_CASE("format: a symbol hash without an empty slot ends its probes") {
  auto built = synthetic_profile(21);
  Buffer b = copy_of(built->bytes());
  for (size_t i = 0; i < table(b, pf::kSymbolHash).count; ++i)
    *record<SymbolHashSlot>(b, pf::kSymbolHash, i) = SymbolHashSlot{0x12345678, 1};
  reseal(b);
  auto p = open_forged(b);
  CHECK(p->find_symbol("linux_banner") == nullptr);
  CHECK_THROWS_WITH(p->verify(), Catch::Contains("symbol hash"));
  exercise(*p);
}

TEST_CASE("format: index cycles are refused by verify / never hang a lookup") {
  auto built = synthetic_profile(18);
  const Buffer good = copy_of(built->bytes());
  const uint32_t dup = built->find_type("dup")->id.id;
  const uint32_t dup_member = built->types()[dup].members_begin;
  const uint32_t dup_lookup = built->types()[dup].lookup_begin;
  auto check = [&](auto&& change, const char* words) {
    Buffer b = copy_of(good.bytes());
    change(b);
    reseal(b);
    auto p = open_forged(b);
    exercise(*p);
    CHECK_THROWS_WITH(p->verify(), Catch::Contains(words));
    return p;
  };
  // struct dup { struct dup x; }: contains itself.
  auto self = check(
      [&](Buffer& b) {
        record<MemberInfo>(b, pf::kMembers, dup_member)->type = TypeRef(dup);
        record<MemberInfo>(b, pf::kMemberLookup, dup_lookup)->type = TypeRef(dup);
      },
      "cycle");
  CHECK(self->offset_of("dup", "x.x.x.x") == 0);  // a path is as long as it is written: it ends
  // A pointer to itself: its spelling ends, verify refuses it.
  uint32_t pointer = 0;
  for (const TypeInfo& t : built->types())
    if (t.kind == TypeKind::kPointer) pointer = t.id.id;
  REQUIRE(pointer);
  auto loop = check([&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, pointer)->target = TypeRef(pointer); },
                    "later type");
  CHECK_THAT(loop->type_name(TypeRef(pointer)), Catch::Contains("too deep"));
  // An enum over itself: signedness is bounded.
  uint32_t en = built->find_type("enum dup")->id.id;
  auto en_loop = check([&](Buffer& b) { record<TypeInfo>(b, pf::kTypes, en)->target = TypeRef(en); }, "non-base");
  CHECK_FALSE(en_loop->is_signed(en_loop->type(TypeRef(en))));
  // An anonymous member of its own record.
  check(
      [&](Buffer& b) {
        auto* m = record<MemberInfo>(b, pf::kMembers, dup_member);
        m->type = TypeRef(dup);
        m->anonymous = 1;
      },
      "cycle");
}

TEST_CASE("format: unsorted tables give wrong answers at worst / verify refuses them") {
  auto built = synthetic_profile(19);
  REQUIRE(built->symbols().size() >= 2);
  const Buffer good = copy_of(built->bytes());
  {
    Buffer b = copy_of(good.bytes());
    std::swap(*record<SymbolInfo>(b, pf::kSymbols, 0), *record<SymbolInfo>(b, pf::kSymbols, 1));
    reseal(b);
    auto p = open_forged(b);
    exercise(*p);
    CHECK_THROWS_WITH(p->verify(), Catch::Contains("name order"));
  }
  {
    Buffer b = copy_of(good.bytes());
    size_t n = table(b, pf::kSymbolsByAddress).count;
    auto* first = record<SymbolAddressEntry>(b, pf::kSymbolsByAddress, 0);
    std::reverse(first, first + n);
    reseal(b);
    auto p = open_forged(b);
    exercise(*p);
    CHECK_THROWS_WITH(p->verify(), Catch::Contains("out of order"));
  }
  {
    Buffer b = copy_of(good.bytes());
    size_t n = table(b, pf::kNamedTypes).count;
    auto* first = record<NamedTypeEntry>(b, pf::kNamedTypes, 0);
    std::reverse(first, first + n);
    reseal(b);
    auto p = open_forged(b);
    exercise(*p);
    CHECK_THROWS_WITH(p->verify(), Catch::Contains("name order"));
  }
}

TEST_CASE("format: random forgeries with valid checksums never crash a lookup") {
  auto built = synthetic_profile(20);
  const Buffer good = copy_of(built->bytes());
  std::mt19937 rng(20);
  for (int round = 0; round < 300; ++round) {
    Buffer b = copy_of(good.bytes());
    // A few random 32-bit words anywhere past the header: indices, names,
    // ranges, kinds, all lies.
    for (int k = 0; k < 1 + round % 4; ++k) {
      size_t at = pf::kHeaderSize + (rng() % ((good.size - pf::kHeaderSize) / 4)) * 4;
      uint32_t value = round % 3 == 0 ? rng() : round % 3 == 1 ? rng() % 64 : 0xffffffffu - rng() % 4;
      std::memcpy(b.data() + at, &value, 4);
    }
    reseal(b);
    std::shared_ptr<const Profile> p;
    try {
      p = open_forged(b);
    } catch (const FormatError&) {
      continue;  // the metadata names lied: refused at open
    }
    test::exercise_profile(*p);
    try {
      p->verify();
    } catch (const FormatError&) {
    }
  }
}
