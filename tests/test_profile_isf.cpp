// The ISF loader: the real linux-6.1 profile against the fixture's truth and
// System.map, and clear errors for broken or unsupported files.
#include <catch2/catch.hpp>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "profiles/decompress.h"
#include "profiles/isf/isf_loader.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;

namespace {

// Parsed once for the whole executable (each parse takes a fraction of a second).
const Profile& fixture_profile() {
  static std::shared_ptr<const Profile> profile = parse_isf_file(test::fixture_file("isf.json.xz"));
  return *profile;
}

uint64_t truth_u64(const nlohmann::json& value) { return parse_u64(value.get<std::string>(), "truth"); }

const MemberInfo& member(const char* type, const char* name) {
  const Profile& p = fixture_profile();
  return p.require_member(p.require_type(type), name);
}

// gzip with stored (uncompressed) deflate blocks: enough to prove the gzip
// path without linking zlib into the test.
std::string gzip_stored(const std::string& data) {
  uint32_t crc = 0xffffffffu;
  for (unsigned char c : data) {
    crc ^= c;
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xedb88320u & (0u - (crc & 1)));
  }
  crc ^= 0xffffffffu;
  std::string out = {'\x1f', '\x8b', '\x08', '\0', '\0', '\0', '\0', '\0', '\0', '\x03'};
  size_t at = 0;
  do {
    size_t n = std::min<size_t>(data.size() - at, 65535);
    bool last = at + n == data.size();
    out.push_back(last ? 1 : 0);
    uint16_t len = uint16_t(n), nlen = uint16_t(~len);
    out.append(reinterpret_cast<const char*>(&len), 2);
    out.append(reinterpret_cast<const char*>(&nlen), 2);
    out.append(data, at, n);
    at += n;
  } while (at < data.size());
  uint32_t size = uint32_t(data.size());
  out.append(reinterpret_cast<const char*>(&crc), 4);
  out.append(reinterpret_cast<const char*>(&size), 4);
  return out;
}

std::string minimal_isf(const std::string& banner_base64, const std::string& extra_symbols = "") {
  return R"({"metadata": {"format": "6.2.0", "producer": {"name": "test", "version": "1.0.0"}},
  "base_types": {"int": {"size": 4, "signed": true, "kind": "int", "endian": "little"},
                 "char": {"size": 1, "signed": true, "kind": "char", "endian": "little"}},
  "user_types": {"s": {"kind": "struct", "size": 8, "fields": {"a": {"type": {"kind": "base", "name": "int"}, "offset": 4}}}},
  "enums": {},
  "symbols": {)" + extra_symbols +
         R"("linux_banner": {"address": 18446744073709551615,
     "type": {"kind": "array", "count": 0, "subtype": {"kind": "base", "name": "char"}},
     "constant_data": ")" +
         banner_base64 + R"("}}})";
}

// base64 of "Linux version test\n\0"
const std::string kTestBanner64 = "TGludXggdmVyc2lvbiB0ZXN0CgA=";

std::string parse_error_of(const std::string& text) {
  try {
    parse_isf_text(text, "broken.json");
  } catch (const FormatError& e) {
    return e.what();
  }
  return "no error";
}

}  // namespace

TEST_CASE("fixture ISF: metadata and banner") {
  const Profile& p = fixture_profile();
  CHECK(p.banner() == test::truth()["linux_banner"].get<std::string>());
  CHECK(p.metadata().format_version.starts_with("6."));
  CHECK(p.metadata().os == "linux");
  CHECK_FALSE(p.metadata().producer_name.empty());
  CHECK_THAT(p.source(), Catch::EndsWith("isf.json.xz"));
  CHECK(p.pointer_size() == 8);

  IsfSummary summary = read_isf_summary(test::fixture_file("isf.json.xz"));
  CHECK(summary.banner == p.banner());
  CHECK(summary.format_version == p.metadata().format_version);
}

TEST_CASE("fixture ISF: symbol addresses equal System.map exactly") {
  const Profile& p = fixture_profile();
  std::ifstream map(test::fixture("System.map"));
  REQUIRE(map);
  std::map<std::string, uint64_t> unique;
  std::map<std::string, int> seen;
  std::string line;
  while (std::getline(map, line)) {
    std::istringstream fields(line);
    std::string address, kind, name;
    if (!(fields >> address >> kind >> name)) continue;
    unique[name] = parse_u64("0x" + address, "System.map");
    ++seen[name];
  }
  size_t compared = 0, mismatched = 0;
  std::string first_mismatch;
  for (const auto& [name, address] : unique) {
    if (seen[name] != 1) continue;  // static symbols of the same name: ambiguous
    auto in_profile = p.symbol(name);
    if (!in_profile) continue;
    ++compared;
    if (*in_profile != address && mismatched++ == 0) first_mismatch = name;
  }
  INFO("first mismatch: " << first_mismatch);
  CHECK(mismatched == 0);
  CHECK(compared > p.symbols().size() / 2);

  // truth.json holds run-time addresses: the kernel image's are slid by the
  // KASLR offset, per-CPU offsets are not.
  const auto& truth = test::truth();
  uint64_t slide = truth_u64(truth["kaslr_offset"]);
  for (const auto& [name, value] : truth["symbols"].items()) {
    uint64_t runtime = truth_u64(value);
    uint64_t expected = runtime >= 0xffffffff80000000ull ? runtime - slide : runtime;
    INFO(name);
    CHECK(p.require_symbol(name) == expected);
  }
}

TEST_CASE("fixture ISF: kernel structures are consistent") {
  const Profile& p = fixture_profile();
  const TypeInfo& list_head = p.require_type("struct list_head");
  CHECK(list_head.size == 16);
  CHECK(member("list_head", "next").offset == 0);
  CHECK(member("list_head", "prev").offset == 8);
  CHECK(p.type_name(member("list_head", "next").type) == "struct list_head *");

  const TypeInfo& task = p.require_type("task_struct");
  CHECK(p.type(member("task_struct", "tasks").type).id == list_head.id);
  const TypeInfo& comm = p.type(member("task_struct", "comm").type);
  CHECK(comm.kind == TypeKind::kArray);
  CHECK(comm.count == 16);
  CHECK(comm.size == 16);
  CHECK(p.name(p.type(comm.target)) == "char");
  CHECK(p.name(p.type(member("task_struct", "pid").type)) == "int");
  CHECK(p.type_name(member("task_struct", "mm").type) == "struct mm_struct *");
  CHECK(p.offset_of("task_struct", "tasks") == member("task_struct", "tasks").offset);
  CHECK(p.has_member("task_struct", "__state"));
  CHECK_FALSE(p.has_member("task_struct", "no_such_member"));

  // Every direct member lies inside its struct.
  for (const MemberInfo& m : p.members(task)) {
    INFO(p.name(m));
    CHECK(m.offset + p.type(m.type).size <= task.size);
  }

  CHECK(p.type(member("module", "list").type).id == list_head.id);
  const TypeInfo& module_name = p.type(member("module", "name").type);
  CHECK(module_name.kind == TypeKind::kArray);
  CHECK(p.type(module_name.target).size == 1);

  // Dotted paths go through embedded structs.
  CHECK(p.offset_of("task_struct", "thread.sp") ==
        member("task_struct", "thread").offset + member("thread_struct", "sp").offset);
  CHECK_THROWS_AS(p.offset_of("task_struct", "mm.pgd"), ProfileError);  // mm is a pointer

  // Symbols carry their types.
  CHECK(p.type_name(p.find_symbol("init_task")->type) == "struct task_struct");
  CHECK(p.enum_constant("pid_type", "PIDTYPE_PID") == 0);
  CHECK(p.enum_constant("pid_type", "PIDTYPE_TGID") == 1);
}

TEST_CASE("fixture ISF: bitfields and anonymous members of task_struct are reachable") {
  const Profile& p = fixture_profile();
  const TypeInfo& task = p.require_type("task_struct");
  size_t bitfields = 0, anonymous = 0, inner_checked = 0;
  for (const MemberInfo& m : p.members(task)) {
    const TypeInfo& t = p.type(m.type);
    if (t.kind == TypeKind::kBitfield) {
      ++bitfields;
      CHECK(t.bit_length >= 1);
      CHECK(t.bit_position + t.bit_length <= 8 * p.type(t.target).size + 7);
      const MemberInfo* found = p.find_member(task, p.name(m));
      REQUIRE(found);
      CHECK(found->offset == m.offset);
    }
    if (m.anonymous) {
      ++anonymous;
      for (const MemberInfo& inner : p.members(t)) {
        if (inner.anonymous) continue;
        const MemberInfo* found = p.find_member(task, p.name(inner));
        INFO(p.name(inner));
        REQUIRE(found);
        CHECK(found->offset == m.offset + inner.offset);
        ++inner_checked;
      }
    }
  }
  CHECK(bitfields > 0);
  CHECK(anonymous > 0);
  CHECK(inner_checked > 0);

  // mm_struct keeps nearly everything in an anonymous struct.
  const TypeInfo& mm = p.require_type("mm_struct");
  CHECK(p.find_member(mm, "pgd"));
  CHECK(p.find_member(mm, "arg_start"));
  CHECK(p.offset_of("mm_struct", "arg_start") < mm.size);
}

TEST_CASE("fixture ISF: a missing type names the type and the file") {
  const Profile& p = fixture_profile();
  CHECK_THROWS_WITH(p.require_type("no_such_type"),
                    Catch::Contains("no type 'no_such_type'") && Catch::Contains("isf.json.xz"));
  CHECK_THROWS_WITH(p.offset_of("task_struct", "no_such_field"),
                    Catch::Contains("no_such_field") && Catch::Contains("task_struct"));
  CHECK(p.find_type("no_such_type") == nullptr);
}

TEST_CASE("ISF: plain / gzip and xz files give the same profile") {
  std::string text = minimal_isf(kTestBanner64);
  test::TempFile plain("isf-plain.json"), gz("isf.json.gz");
  plain.write(text);
  gz.write(gzip_stored(text));
  auto a = parse_isf_file(plain.path());
  auto b = parse_isf_file(gz.path());
  CHECK(a->banner() == "Linux version test");
  CHECK(b->banner() == a->banner());
  CHECK(b->offset_of("s", "a") == 4);
  CHECK(a->require_symbol("linux_banner") == 0xffffffffffffffffull);
  CHECK(read_isf_summary(gz.path()).banner == "Linux version test");
  CHECK(read_decompressed(gz.path()) == text);

  // A corrupt gzip stream (bad CRC) is an error naming the file.
  std::string corrupt = gzip_stored(text);
  corrupt[corrupt.size() - 6] ^= 0x55;
  test::TempFile bad("isf-bad.json.gz");
  bad.write(corrupt);
  CHECK_THROWS_WITH(parse_isf_file(bad.path()), Catch::Contains(bad.path()) && Catch::Contains("gzip"));
}

TEST_CASE("ISF: a truncated xz file is an error naming the file") {
  std::ifstream in(test::fixture_file("isf.json.xz"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  test::TempFile cut("isf-cut.json.xz");
  cut.write(std::string_view(bytes).substr(0, bytes.size() / 2));
  CHECK_THROWS_AS(parse_isf_file(cut.path()), FormatError);
  CHECK_THROWS_WITH(parse_isf_file(cut.path()), Catch::Contains(cut.path()) && Catch::Contains("xz"));
}

TEST_CASE("ISF: broken and unsupported documents give clear errors") {
  CHECK_THAT(parse_error_of("hello"), Catch::Contains("broken.json") && Catch::Contains("invalid JSON"));
  CHECK_THAT(parse_error_of(minimal_isf(kTestBanner64).substr(0, 200)), Catch::Contains("invalid JSON"));
  CHECK_THAT(parse_error_of("[1, 2]"), Catch::Contains("not an ISF"));
  CHECK_THAT(parse_error_of("42"), Catch::Contains("not an ISF"));
  CHECK_THAT(parse_error_of(R"({"symbols": {}})"), Catch::Contains("metadata"));
  CHECK_THAT(parse_error_of(R"({"metadata": {"format": "4.1.0"}})"), Catch::Contains("unsupported ISF format"));

  std::string text = minimal_isf(kTestBanner64);
  auto with = [&](const std::string& from, const std::string& to) {
    std::string changed = text;
    size_t at = changed.find(from);
    REQUIRE(at != std::string::npos);
    changed.replace(at, from.size(), to);
    return parse_error_of(changed);
  };
  CHECK_THAT(with(R"(, "offset": 4)", ""), Catch::Contains("user_types.s.fields.a") && Catch::Contains("offset"));
  CHECK_THAT(with(R"("kind": "base", "name": "int"})", R"("kind": "nonsense"})"),
             Catch::Contains("unknown type kind 'nonsense'"));
  CHECK_THAT(with(R"("count": 0, )", ""), Catch::Contains("count"));
  CHECK_THAT(with("18446744073709551615", "-5"), Catch::Contains("symbols.linux_banner"));
  CHECK_THAT(with(kTestBanner64, "!!!"), Catch::Contains("base64"));
  CHECK_THAT(with(R"("endian": "little"})", R"("endian": "big"})"), Catch::Contains("big-endian"));
  CHECK_THAT(with(R"("kind": "struct", "size": 8)", R"("kind": "struct")"), Catch::Contains("size"));

  // Unknown keys are ignored (newer producers add some).
  std::string extended = text;
  extended.insert(1, R"("future": {"a": [1, {"b": 2}]}, )");
  CHECK(parse_isf_text(extended, "extended.json")->banner() == "Linux version test");
}

TEST_CASE("ISF: a file that is not there or empty is an Error naming it") {
  CHECK_THROWS_WITH(parse_isf_file("/nonexistent/isf.json"), Catch::Contains("/nonexistent/isf.json"));
  test::TempFile empty("isf-empty.json");
  empty.write(std::string_view());
  CHECK_THROWS_AS(parse_isf_file(empty.path()), Error);
}
