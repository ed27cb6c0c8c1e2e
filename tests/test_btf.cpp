#include <catch2/catch.hpp>
#include <elf.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "btf_blob_builder.h"
#include "core/util/error.h"
#include "profiles/btf/btf.h"
#include "profiles/btf/isf_from_btf.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
using test::BtfBlobBuilder;

namespace {

Btf parse(const std::vector<uint8_t>& bytes, const std::string& source = "blob.btf") {
  return Btf::parse(std::span<const uint8_t>(bytes), source);
}

// Parsing must fail with a FormatError naming the input and an offset, and
// saying `why`.
void require_rejected(const std::vector<uint8_t>& bytes, const std::string& why) {
  try {
    parse(bytes, "hostile.btf");
    FAIL("accepted a blob that should be rejected for: " << why);
  } catch (const FormatError& e) {
    std::string message = e.what();
    INFO(message);
    CHECK(message.find("hostile.btf") != std::string::npos);
    CHECK(message.find("offset 0x") != std::string::npos);
    CHECK(message.find(why) != std::string::npos);
  }
}

// A small kernel-like set of types exercising every kind.
struct Sample {
  BtfBlobBuilder b;
  uint32_t u8, u32, s32, ulong, chr, boolean, dbl;
  uint32_t u32_typedef, u32_alias, const_volatile_u32;
  uint32_t node, node_ptr, flags_struct, anon_union, outer, matrix, flexible;
  uint32_t state_enum, big_enum, fwd_union, proto, func, var, datasec, tag, type_tag;

  Sample() {
    u8 = b.int_type("unsigned char", 1, 0);
    u32 = b.int_type("unsigned int", 4, 0);
    s32 = b.int_type("int", 4, 1);
    ulong = b.int_type("long unsigned int", 8, 0);
    chr = b.int_type("char", 1, 1);
    boolean = b.int_type("_Bool", 1, 4);
    dbl = b.floating("double", 8);
    u32_typedef = b.typedef_of("u32", u32);
    u32_alias = b.typedef_of("uint32_alias", u32_typedef);
    const_volatile_u32 = b.const_of(b.volatile_of(u32_alias));
    node = b.next_id();
    node_ptr = b.next_id() + 1;
    b.record("node", 16, {{"next", node_ptr, 0, 0}, {"value", const_volatile_u32, 64, 0}});
    b.pointer(node);
    flags_struct = b.record("flags", 4,
                            {{"low", u32, 0, 3}, {"mid", u32, 3, 5}, {"high", u8, 8, 8}, {"rest", u32_typedef, 16, 16}});
    anon_union = b.record("", 8, {{"as_long", ulong, 0, 0}, {"as_ptr", node_ptr, 0, 0}}, true);
    uint32_t two_by_three = b.array(b.array(u32, u32, 3), u32, 2);
    matrix = two_by_three;
    flexible = b.array(chr, u32, 0);
    outer = b.record("outer", 48, {{"head", node, 0, 0}, {"", anon_union, 128, 0}, {"grid", matrix, 192, 0},
                                   {"name", flexible, 384, 0}});
    state_enum = b.enumeration("state", 4, {{"IDLE", 0}, {"BUSY", -1}}, true);
    big_enum = b.enumeration64("big", {{"HUGE", 0xfffffffffffffff0ull}}, false);
    fwd_union = b.forward("later", true);
    proto = b.function_proto(s32, {{"n", node_ptr}, {"", 0}});
    func = b.function("visit", proto, 1);
    var = b.variable("counter", u32_typedef, 1);
    datasec = b.data_section(".data..percpu", 64, {{var, 16, 4}});
    tag = b.decl_tag("user", outer, 1);
    type_tag = b.type_tag("rcu", node);
  }
};

}  // namespace

TEST_CASE("BTF: every kind decodes") {
  Sample s;
  Btf btf = parse(s.b.bytes());
  REQUIRE(btf.type_count() == s.type_tag + 1);
  CHECK_FALSE(btf.big_endian());
  CHECK(btf.pointer_size() == 8);  // from sizeof(long)
  CHECK(btf.type(0).kind == BtfKind::kVoid);

  const BtfType& chr = btf.type(s.chr);
  CHECK(chr.kind == BtfKind::kInt);
  CHECK(chr.name == "char");
  CHECK(chr.size == 1);
  CHECK(chr.int_encoding == kBtfIntSigned);
  CHECK(chr.int_bits == 8);
  CHECK(btf.type(s.boolean).int_encoding == kBtfIntBool);
  CHECK(btf.type(s.dbl).kind == BtfKind::kFloat);
  CHECK(btf.type(s.dbl).size == 8);

  const BtfType& node = btf.type(s.node);
  CHECK(node.kind == BtfKind::kStruct);
  CHECK(node.size == 16);
  auto members = btf.members(node);
  REQUIRE(members.size() == 2);
  CHECK(members[0].name == "next");
  CHECK(members[0].type == s.node_ptr);
  CHECK(members[1].bit_offset == 64);
  CHECK(btf.type(s.node_ptr).kind == BtfKind::kPointer);
  CHECK(btf.type(s.node_ptr).type == s.node);

  const BtfType& array = btf.type(s.matrix);
  CHECK(array.kind == BtfKind::kArray);
  CHECK(array.count == 2);
  CHECK(btf.type(array.type).kind == BtfKind::kArray);
  CHECK(btf.type(array.type).count == 3);
  CHECK(btf.type(s.flexible).count == 0);

  auto values = btf.enumerators(btf.type(s.state_enum));
  REQUIRE(values.size() == 2);
  CHECK(values[1].name == "BUSY");
  CHECK(values[1].as_signed() == -1);
  auto big = btf.enumerators(btf.type(s.big_enum));
  REQUIRE(big.size() == 1);
  CHECK(big[0].bits == 0xfffffffffffffff0ull);
  CHECK(btf.type(s.big_enum).kind == BtfKind::kEnum64);

  CHECK(btf.type(s.fwd_union).kind == BtfKind::kForward);
  CHECK(btf.type(s.fwd_union).kind_flag);
  auto params = btf.params(btf.type(s.proto));
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "n");
  CHECK(params[1].type == 0);  // varargs
  CHECK(btf.type(s.proto).type == s.s32);
  CHECK(btf.type(s.func).type == s.proto);
  CHECK(btf.type(s.func).linkage == 1);
  CHECK(btf.type(s.var).kind == BtfKind::kVariable);
  CHECK(btf.type(s.var).linkage == 1);
  auto vars = btf.section_vars(btf.type(s.datasec));
  REQUIRE(vars.size() == 1);
  CHECK(vars[0].type == s.var);
  CHECK(vars[0].offset == 16);
  CHECK(btf.type(s.datasec).name == ".data..percpu");
  CHECK(btf.type(s.tag).component_index == 1);
  CHECK(btf.type(s.type_tag).kind == BtfKind::kTypeTag);
  CHECK(btf.find(BtfKind::kStruct, "outer") == s.outer);
  CHECK(btf.find(BtfKind::kStruct, "missing") == 0);
  CHECK_THROWS_AS(btf.type(btf.type_count()), FormatError);
}

TEST_CASE("BTF: bitfield members and anonymous members") {
  Sample s;
  Btf btf = parse(s.b.bytes());
  const BtfType& flags = btf.type(s.flags_struct);
  CHECK(flags.kind_flag);
  auto m = btf.members(flags);
  REQUIRE(m.size() == 4);
  CHECK(m[0].bit_offset == 0);
  CHECK(m[0].bitfield_size == 3);
  CHECK(m[1].bit_offset == 3);
  CHECK(m[1].bitfield_size == 5);
  CHECK(m[2].bit_offset == 8);
  CHECK(m[2].bitfield_size == 8);
  CHECK(m[3].bit_offset == 16);
  CHECK(m[3].bitfield_size == 16);

  auto outer = btf.members(btf.type(s.outer));
  REQUIRE(outer.size() == 4);
  CHECK(outer[1].name.empty());
  CHECK(btf.type(outer[1].type).kind == BtfKind::kUnion);
  CHECK(btf.type(outer[1].type).name.empty());
}

TEST_CASE("BTF: typedef and qualifier chains resolve") {
  Sample s;
  Btf btf = parse(s.b.bytes());
  CHECK(btf.strip_typedefs(s.const_volatile_u32) == s.u32);
  CHECK(btf.strip_typedefs(s.u32_alias) == s.u32);
  CHECK(btf.strip_qualifiers(s.const_volatile_u32) == s.u32_alias);
  CHECK(btf.strip_typedefs(s.node) == s.node);
}

TEST_CASE("BTF: big-endian blobs decode the same") {
  Sample s;
  Btf little = parse(s.b.bytes(false));
  Btf big = parse(s.b.bytes(true));
  CHECK(big.big_endian());
  REQUIRE(big.type_count() == little.type_count());
  for (uint32_t id = 1; id < big.type_count(); ++id) {
    INFO("type #" << id);
    CHECK(big.type(id).kind == little.type(id).kind);
    CHECK(big.type(id).name == little.type(id).name);
    CHECK(big.type(id).size == little.type(id).size);
    CHECK(big.type(id).type == little.type(id).type);
  }
  CHECK(big.enumerators(big.type(s.big_enum))[0].bits == 0xfffffffffffffff0ull);
}

TEST_CASE("BTF: hostile headers are refused") {
  Sample s;
  const std::vector<uint8_t> good = s.b.bytes();
  const size_t type_len = s.b.type_section_size();

  require_rejected(std::vector<uint8_t>(good.begin(), good.begin() + 10), "too short");
  {
    auto bad = good;
    bad[0] = 0x12;
    require_rejected(bad, "bad magic");
  }
  {
    auto bad = good;
    bad[2] = 2;
    require_rejected(bad, "version");
  }
  {
    auto bad = good;
    test::put_le32(bad, 4, static_cast<uint32_t>(good.size() + 1));  // hdr_len
    require_rejected(bad, "header length");
  }
  {
    auto bad = good;
    test::put_le32(bad, 12, static_cast<uint32_t>(type_len + 4096));  // type_len lies
    require_rejected(bad, "type section");
  }
  {
    auto bad = good;
    test::put_le32(bad, 12, 0xfffffff0u);  // type_len that would wrap 32-bit arithmetic
    require_rejected(bad, "type section");
  }
  {
    auto bad = good;
    test::put_le32(bad, 20, static_cast<uint32_t>(s.b.string_section_size() + 1));  // str_len lies
    require_rejected(bad, "string section");
  }
  {
    auto bad = good;
    bad[bad.size() - 1] = 'x';  // last string unterminated
    require_rejected(bad, "not NUL-terminated");
  }
  {
    auto bad = good;
    test::put_le32(bad, 12, static_cast<uint32_t>(type_len - 4));  // cuts the last record short
    require_rejected(bad, "needs");
  }
}

TEST_CASE("BTF: hostile type records are refused") {
  SECTION("string offset past the end") {
    BtfBlobBuilder b;
    b.int_type("int", 4, 1);
    auto bytes = b.bytes();
    test::put_le32(bytes, BtfBlobBuilder::kHeaderSize, static_cast<uint32_t>(b.string_section_size() + 100));
    require_rejected(bytes, "name offset");
  }
  SECTION("type id out of range") {
    BtfBlobBuilder b;
    b.pointer(42);
    require_rejected(b.bytes(), "refers to type #42");
  }
  SECTION("member type out of range") {
    BtfBlobBuilder b;
    uint32_t i = b.int_type("int", 4, 1);
    b.record("s", 8, {{"a", i, 0, 0}, {"b", 7777, 32, 0}});
    require_rejected(b.bytes(), "refers to type #7777");
  }
  SECTION("vlen larger than the section") {
    BtfBlobBuilder b;
    b.raw(b.str("s"), 4, 1000, false, 8, {});
    require_rejected(b.bytes(), "member list needs");
  }
  SECTION("unknown kind") {
    BtfBlobBuilder b;
    b.raw(0, 25, 0, false, 0);
    require_rejected(b.bytes(), "unknown kind 25");
  }
  SECTION("kind zero") {
    BtfBlobBuilder b;
    b.raw(0, 0, 0, false, 0);
    require_rejected(b.bytes(), "unknown kind 0");
  }
  SECTION("control characters in a name") {
    BtfBlobBuilder b;
    b.int_type("in\x01t", 4, 1);
    require_rejected(b.bytes(), "non-printable byte");
  }
  SECTION("absurd integer size") {
    BtfBlobBuilder b;
    b.int_type("odd", 3, 0, 8);
    require_rejected(b.bytes(), "INT of 3 bytes");
  }
  SECTION("typedef cycle") {
    BtfBlobBuilder b;
    uint32_t first = b.next_id();
    b.typedef_of("a_t", first + 1);
    b.typedef_of("b_t", first);
    require_rejected(b.bytes(), "loops back");
  }
  SECTION("pointer to itself") {
    BtfBlobBuilder b;
    b.pointer(b.next_id());
    require_rejected(b.bytes(), "loops back");
  }
  SECTION("cycle through const and array") {
    BtfBlobBuilder b;
    uint32_t first = b.next_id();
    b.const_of(first + 1);
    b.array(first, 0, 4);
    require_rejected(b.bytes(), "loops back");
  }
  SECTION("chain deeper than the limit") {
    BtfBlobBuilder b;
    uint32_t t = b.int_type("int", 4, 1);
    for (unsigned i = 0; i < Btf::kMaxChainDepth + 10; ++i) t = b.pointer(t);
    require_rejected(b.bytes(), "deeper than");
  }
  SECTION("data section listing a non-variable") {
    BtfBlobBuilder b;
    uint32_t i = b.int_type("int", 4, 1);
    b.data_section(".data", 4, {{i, 0, 4}});
    require_rejected(b.bytes(), "not a variable");
  }
}

TEST_CASE("BTF: a deep but legal chain is accepted") {
  BtfBlobBuilder b;
  uint32_t t = b.int_type("int", 4, 1);
  for (unsigned i = 0; i + 1 < Btf::kMaxChainDepth; ++i) t = b.pointer(t);
  Btf btf = parse(b.bytes());
  CHECK(btf.type_count() == Btf::kMaxChainDepth + 1);
}

TEST_CASE("BTF: random corruption never crashes the parser or the generator") {
  Sample s;
  const std::vector<uint8_t> good = s.b.bytes();
  SystemMap map;
  map.source = "map";
  map.symbols.push_back({0x10, 'D', "counter"});
  map.symbols.push_back({0, 'D', "__per_cpu_start"});
  std::mt19937 random(12345);
  size_t accepted = 0, rejected = 0;
  for (int round = 0; round < 3000; ++round) {
    std::vector<uint8_t> bytes = good;
    int edits = 1 + static_cast<int>(random() % 4);
    for (int e = 0; e < edits; ++e) {
      size_t at = random() % bytes.size();
      bytes[at] = static_cast<uint8_t>(random());
    }
    if (round % 10 == 0) bytes.resize(random() % bytes.size());
    try {
      Btf btf = parse(bytes);
      nlohmann::json isf = isf_from_btf(btf, map, {});
      CHECK(isf.contains("user_types"));
      ++accepted;
    } catch (const FormatError&) {
      ++rejected;
    }
  }
  CHECK(accepted > 0);
  CHECK(rejected > 0);
}

TEST_CASE("BTF: every truncation of a valid blob is refused cleanly") {
  Sample s;
  const std::vector<uint8_t> good = s.b.bytes();
  for (size_t n = 0; n < good.size(); ++n) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n));
    CHECK_THROWS_AS(parse(cut), FormatError);
  }
}

namespace {

// A minimal ELF file holding `btf` in a .BTF section (and a section-name
// table), for the 64-bit or 32-bit class.
template <typename Ehdr, typename Shdr>
std::vector<uint8_t> elf_with_section(const std::vector<uint8_t>& payload, const char* section_name,
                                      unsigned char elf_class) {
  std::string names = std::string("\0", 1) + section_name + '\0' + ".shstrtab" + '\0';
  const size_t payload_at = sizeof(Ehdr);
  const size_t names_at = payload_at + payload.size();
  size_t headers_at = names_at + names.size();
  headers_at = (headers_at + 7) & ~size_t{7};
  std::vector<uint8_t> out(headers_at + 3 * sizeof(Shdr), 0);
  Ehdr eh{};
  std::memcpy(eh.e_ident, ELFMAG, SELFMAG);
  eh.e_ident[EI_CLASS] = elf_class;
  eh.e_ident[EI_DATA] = ELFDATA2LSB;
  eh.e_ident[EI_VERSION] = EV_CURRENT;
  eh.e_type = ET_EXEC;
  eh.e_machine = elf_class == ELFCLASS64 ? EM_X86_64 : EM_386;
  eh.e_version = EV_CURRENT;
  eh.e_shoff = headers_at;
  eh.e_ehsize = sizeof(Ehdr);
  eh.e_shentsize = sizeof(Shdr);
  eh.e_shnum = 3;
  eh.e_shstrndx = 2;
  std::memcpy(out.data(), &eh, sizeof eh);
  std::memcpy(out.data() + payload_at, payload.data(), payload.size());
  std::memcpy(out.data() + names_at, names.data(), names.size());
  Shdr sections[3]{};
  sections[1].sh_name = 1;
  sections[1].sh_type = SHT_PROGBITS;
  sections[1].sh_offset = payload_at;
  sections[1].sh_size = payload.size();
  sections[1].sh_addralign = 1;
  sections[2].sh_name = static_cast<uint32_t>(2 + std::strlen(section_name));
  sections[2].sh_type = SHT_STRTAB;
  sections[2].sh_offset = names_at;
  sections[2].sh_size = names.size();
  sections[2].sh_addralign = 1;
  std::memcpy(out.data() + headers_at, sections, sizeof sections);
  return out;
}

}  // namespace

TEST_CASE("BTF: loads the .BTF section of an ELF file") {
  Sample s;
  test::TempFile file("vmlinux");
  file.write(elf_with_section<Elf64_Ehdr, Elf64_Shdr>(s.b.bytes(), ".BTF", ELFCLASS64));
  Btf btf = Btf::load(file.path());
  CHECK(btf.pointer_size() == 8);
  CHECK(btf.find(BtfKind::kStruct, "outer") == s.outer);
  CHECK(btf.source() == file.path());

  test::TempFile file32("vmlinux32");
  file32.write(elf_with_section<Elf32_Ehdr, Elf32_Shdr>(s.b.bytes(), ".BTF", ELFCLASS32));
  CHECK(Btf::load(file32.path()).pointer_size() == 4);
}

TEST_CASE("BTF: ELF errors name the file and / inside .BTF / the file offset") {
  Sample s;
  test::TempFile no_btf("nobtf");
  no_btf.write(elf_with_section<Elf64_Ehdr, Elf64_Shdr>(s.b.bytes(), ".data", ELFCLASS64));
  CHECK_THROWS_WITH(Btf::load(no_btf.path()), Catch::Contains("no .BTF section") && Catch::Contains(no_btf.path()));

  // A typedef cycle inside the section: the offset reported is the record's
  // position in the ELF file, past the ELF header.
  BtfBlobBuilder b;
  b.typedef_of("loop_t", b.next_id());
  test::TempFile cyclic("cyclic");
  cyclic.write(elf_with_section<Elf64_Ehdr, Elf64_Shdr>(b.bytes(), ".BTF", ELFCLASS64));
  CHECK_THROWS_WITH(Btf::load(cyclic.path()),
                    Catch::Contains(cyclic.path()) && Catch::Contains("offset 0x58") && Catch::Contains("loops back"));

  test::TempFile junk("junk");
  junk.write(std::string("this is not BTF at all"));
  CHECK_THROWS_AS(Btf::load(junk.path()), FormatError);
}

TEST_CASE("BTF: the fixture kernel's BTF") {
  Btf btf = Btf::load(test::fixture("vmlinux.btf"));
  CHECK(btf.type_count() > 10000);
  CHECK_FALSE(btf.big_endian());
  CHECK(btf.pointer_size() == 8);
  uint32_t task = btf.find(BtfKind::kStruct, "task_struct");
  REQUIRE(task != 0);
  bool has_pid = false, has_comm = false;
  for (const BtfMember& m : btf.members(btf.type(task))) {
    has_pid = has_pid || m.name == "pid";
    has_comm = has_comm || m.name == "comm";
  }
  CHECK(has_pid);
  CHECK(has_comm);
  uint32_t percpu = btf.find(BtfKind::kDataSection, ".data..percpu");
  REQUIRE(percpu != 0);
  CHECK(btf.section_vars(btf.type(percpu)).size() > 10);
}
