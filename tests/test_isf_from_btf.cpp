#include <catch2/catch.hpp>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "btf_blob_builder.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/layers/mapped_file.h"
#include "profiles/btf/btf.h"
#include "profiles/btf/global_types.h"
#include "profiles/btf/isf_from_btf.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/isf/isf_writer.h"
#include "profiles/system_map.h"
#include "support/fixtures.h"
#include "support/temp_file.h"

using namespace memscope;
using nlohmann::json;
using test::BtfBlobBuilder;

// ---------------------------------------------------------------- System.map

TEST_CASE("System.map: symbols / odd lines and unsigned addresses") {
  const std::string text =
      "0000000000000000 D fixed_percpu_data\n"
      "\n"
      "ffffffff81000000 T _text\r\n"
      "   ffffffff82a1aa40    D   init_task  \n"
      "ffffffff81000000 T\n"                                        // no name
      "zzzzzzzzzzzzzzzz T bad_address\n"                            // not hex
      "1ffffffff81000000 T too_wide\n"                              // 17 digits
      "ffffffffc0a01000 t helper\t[some_module]\n"                 // kallsyms module symbol
      "ffffffff81000010 TT two_letters\n"
      "ffffffffffffffff A last_address\n"
      "ffffffff81000020 t dup\n"
      "ffffffff81000030 t dup";                                     // no final newline
  SystemMap map = parse_system_map(text, "System.map-test");
  CHECK(map.source == "System.map-test");
  CHECK(map.lines == 12);
  REQUIRE(map.symbols.size() == 6);
  CHECK(map.symbols[0].name == "fixed_percpu_data");
  CHECK(map.symbols[0].address == 0);
  CHECK(map.symbols[1].name == "_text");
  CHECK(map.symbols[1].type == 'T');
  CHECK(map.symbols[1].address == 0xffffffff81000000ull);
  CHECK(map.symbols[2].name == "init_task");
  CHECK(map.symbols[2].address == 0xffffffff82a1aa40ull);
  CHECK(map.symbols[3].name == "last_address");
  CHECK(map.symbols[3].address == 0xffffffffffffffffull);
  CHECK(map.symbols[4].address == 0xffffffff81000020ull);
  CHECK(map.symbols[5].address == 0xffffffff81000030ull);
  CHECK(map.skipped_lines == 6);
  CHECK(map.first_skipped_line == 2);
}

TEST_CASE("System.map: long lines are skipped / nonsense is refused") {
  std::string long_line = "ffffffff81000000 T " + std::string(kSystemMapMaxLine, 'a') + "\n";
  SystemMap map = parse_system_map(long_line + "ffffffff81000000 T ok\n", "m");
  CHECK(map.symbols.size() == 1);
  CHECK(map.skipped_lines == 1);

  CHECK_THROWS_WITH(parse_system_map("", "empty.map"), Catch::Contains("empty.map") && Catch::Contains("not a System.map"));
  CHECK_THROWS_AS(parse_system_map("hello world\nthis is text\n", "prose"), FormatError);
  CHECK_THROWS_WITH(parse_system_map("0000000000000000 T a\n0000000000000000 T b\n", "kallsyms"),
                    Catch::Contains("every address is zero"));
}

TEST_CASE("System.map: loads the fixture") {
  SystemMap map = load_system_map(test::fixture("System.map"));
  CHECK(map.symbols.size() > 50000);
  const json& symbols = test::truth()["symbols"];
  bool found = false;
  for (const SystemMapSymbol& s : map.symbols)
    if (s.name == "_text") found = s.address == parse_u64(test::truth()["system_map_text"].get<std::string>(), "text");
  CHECK(found);
  CHECK(symbols.contains("init_task"));
}

// ---------------------------------------------------------- helpers and table

TEST_CASE("ISF helpers: base64 and the banner's constant data") {
  CHECK(base64_encode("") == "");
  CHECK(base64_encode("f") == "Zg==");
  CHECK(base64_encode("fo") == "Zm8=");
  CHECK(base64_encode("foo") == "Zm9v");
  CHECK(base64_encode("foobar") == "Zm9vYmFy");
  CHECK(base64_encode(std::string("\xff\x00\x80", 3)) == "/wCA");
  CHECK(linux_banner_constant_data("Linux version 6.1") == std::string("Linux version 6.1\n\0", 19));
  CHECK(linux_banner_constant_data("Linux version 6.1\n") == std::string("Linux version 6.1\n\0", 19));
}

TEST_CASE("Known global types: sorted / and every declaration parses") {
  auto table = known_global_types();
  REQUIRE(table.size() > 20);
  for (size_t i = 1; i < table.size(); ++i) CHECK(table[i - 1].symbol < table[i].symbol);
  for (const KnownGlobalType& entry : table) {
    INFO(entry.symbol);
    CHECK_NOTHROW(parse_type_declarations(entry.declaration));
    CHECK(find_known_global_type(entry.symbol) == &entry);
  }
  CHECK(find_known_global_type("no_such_symbol") == nullptr);
  for (const char* needed : {"init_task", "modules", "init_top_pgt", "prb", "log_buf", "log_buf_len", "init_mm",
                             "init_uts_ns", "sys_call_table", "linux_banner", "jiffies", "page_offset_base",
                             "module_kset", "init_pid_ns", "printk_rb_static"})
    CHECK(find_known_global_type(needed) != nullptr);
}

TEST_CASE("Known global types: declaration syntax") {
  auto decls = parse_type_declarations("sys_call_ptr_t [] | function * [] ");
  REQUIRE(decls.size() == 2);
  CHECK(decls[0].tag == TypeDeclaration::Tag::kNone);
  CHECK(decls[0].name == "sys_call_ptr_t");
  REQUIRE(decls[0].suffixes.size() == 1);
  CHECK_FALSE(decls[0].suffixes[0].pointer);
  CHECK(decls[0].suffixes[0].count == 0);
  REQUIRE(decls[1].suffixes.size() == 2);
  CHECK(decls[1].suffixes[0].pointer);
  CHECK_FALSE(decls[1].suffixes[1].pointer);

  auto s = parse_type_declarations("struct  printk_ringbuffer**[16]");
  REQUIRE(s.size() == 1);
  CHECK(s[0].tag == TypeDeclaration::Tag::kStruct);
  CHECK(s[0].name == "printk_ringbuffer");
  REQUIRE(s[0].suffixes.size() == 3);
  CHECK(s[0].suffixes[2].count == 16);
  CHECK(parse_type_declarations("long   unsigned int")[0].name == "long unsigned int");

  CHECK_THROWS_AS(parse_type_declarations("struct *"), Error);
  CHECK_THROWS_AS(parse_type_declarations("int [4"), Error);
  CHECK_THROWS_AS(parse_type_declarations("int [x]"), Error);
  CHECK_THROWS_AS(parse_type_declarations("int ) "), Error);
}

// ------------------------------------------------------ synthetic generation

namespace {

// A miniature kernel: the shapes that matter (typedef'd anonymous structs,
// bitfields, anonymous unions, function pointers, per-CPU variables).
struct MiniKernel {
  BtfBlobBuilder b;
  uint32_t task_struct = 0, list_head = 0;

  MiniKernel() {
    uint32_t chr = b.int_type("char", 1, 1);
    uint32_t uchar = b.int_type("unsigned char", 1, 0);
    uint32_t integer = b.int_type("int", 4, 1);
    uint32_t uint = b.int_type("unsigned int", 4, 0);
    uint32_t slong = b.int_type("long int", 8, 1);
    uint32_t ulong = b.int_type("long unsigned int", 8, 0);
    b.int_type("_Bool", 1, 4);
    b.floating("double", 8);
    (void)uchar;
    uint32_t pid_t_id = b.typedef_of("pid_t", b.typedef_of("__kernel_pid_t", integer));

    list_head = b.next_id();
    uint32_t list_ptr = list_head + 1;
    b.record("list_head", 16, {{"next", list_ptr, 0, 0}, {"prev", list_ptr, 64, 0}});
    b.pointer(list_head);

    // typedef struct { int counter; } atomic_t;
    uint32_t atomic_anon = b.record("", 4, {{"counter", integer, 0, 0}});
    uint32_t atomic_t = b.typedef_of("atomic_t", atomic_anon);
    // typedef struct { unsigned long pgd; } pgd_t;
    b.typedef_of("pgd_t", b.record("", 8, {{"pgd", ulong, 0, 0}}));

    // Two identical anonymous unions and one different.
    uint32_t union_a = b.record("", 8, {{"a", ulong, 0, 0}, {"b", list_ptr, 0, 0}}, true);
    uint32_t union_b = b.record("", 8, {{"a", ulong, 0, 0}, {"b", list_ptr, 0, 0}}, true);
    uint32_t union_c = b.record("", 8, {{"x", ulong, 0, 0}}, true);

    uint32_t pt_regs_fwd = b.forward("pt_regs", false);
    uint32_t proto = b.function_proto(slong, {{"regs", b.pointer(b.const_of(pt_regs_fwd))}});
    uint32_t syscall_ptr = b.typedef_of("sys_call_ptr_t", b.pointer(proto));
    (void)syscall_ptr;

    uint32_t comm = b.array(chr, integer, 16);
    uint32_t grid = b.array(b.array(uint, integer, 3), integer, 2);
    uint32_t tail = b.array(chr, integer, 0);
    uint32_t state = b.enumeration("task_state", 4, {{"RUNNING", 0}, {"DEAD", 16}}, false);
    uint32_t signed_enum = b.enumeration("signed_thing", 4, {{"NEG", -5}, {"POS", 5}}, true);
    uint32_t big = b.enumeration64("wide", {{"WIDE_HIGH", 0xffffffffffffff00ull}}, false);
    // Old-style bitfield: an INT of 3 bits, in a struct without kind_flag.
    uint32_t three_bits = b.int_type("unsigned int", 4, 0, 3, 0);

    task_struct = b.next_id();
    uint32_t task_ptr = task_struct + 1;     // added right after the struct
    uint32_t handler_ptr = task_struct + 2;  // then a pointer to the prototype
    b.record("task_struct", 128,
             {{"state", state, 0, 0},
              {"flags_low", uint, 32, 4},
              {"flags_high", uint, 36, 20},
              {"prio", uint, 56, 8},
              {"tasks", list_head, 64, 0},
              {"pid", pid_t_id, 192, 0},
              {"usage", atomic_t, 224, 0},
              {"", union_a, 256, 0},
              {"", union_b, 320, 0},
              {"", union_c, 384, 0},
              {"parent", task_ptr, 448, 0},
              {"comm", comm, 512, 0},
              {"grid", grid, 640, 0},
              {"handler", handler_ptr, 832, 0},
              {"sign", signed_enum, 896, 0},
              {"wide", big, 960, 0},
              {"tail", tail, 1024, 0}});
    b.pointer(task_struct);
    b.pointer(proto);
    b.record("legacy", 4, {{"three", three_bits, 5, 0}});

    uint32_t current = b.variable("current_task", task_ptr);
    uint32_t cpu_number = b.variable("cpu_number", integer);
    b.data_section(".data..percpu", 0x1000, {{current, 0x100, 8}, {cpu_number, 0x208, 4}});
  }

  SystemMap map() const {
    std::string text =
        "0000000000000000 D __per_cpu_start\n"
        "0000000000000100 D current_task\n"
        "ffffffff81000000 T _text\n"
        "ffffffff81000000 T startup_64\n"
        "ffffffff82000000 D init_task\n"
        "ffffffff82001000 D init_top_pgt\n"
        "ffffffff82002000 R sys_call_table\n"
        "ffffffff82003000 R linux_banner\n"
        "ffffffff82004000 D modules\n"
        "ffffffff82005000 D log_buf_len\n"
        "ffffffff82006000 t twice\n"
        "ffffffff82007000 t twice\n";
    return parse_system_map(text, "/some/dir/System.map-mini");
  }
};

json base(const std::string& name) { return json{{"kind", "base"}, {"name", name}}; }

}  // namespace

TEST_CASE("ISF from BTF: types of a miniature kernel") {
  MiniKernel k;
  Btf btf = Btf::parse(k.b.bytes(), "mini.btf");
  IsfFromBtfReport report;
  json isf = isf_from_btf(btf, k.map(), {}, &report);

  // Base types, named and classified like dwarf2json's.
  const json& bases = isf["base_types"];
  CHECK(bases["char"] == json{{"endian", "little"}, {"kind", "char"}, {"signed", true}, {"size", 1}});
  CHECK(bases["unsigned char"]["kind"] == "char");
  CHECK(bases["unsigned char"]["signed"] == false);
  CHECK(bases["_Bool"]["kind"] == "bool");
  CHECK(bases["double"]["kind"] == "float");
  CHECK(bases["long unsigned int"] == json{{"endian", "little"}, {"kind", "int"}, {"signed", false}, {"size", 8}});
  CHECK(bases["pointer"]["size"] == 8);
  CHECK(bases["void"]["kind"] == "void");

  const json& types = isf["user_types"];
  REQUIRE(types.contains("task_struct"));
  const json& task = types["task_struct"];
  CHECK(task["kind"] == "struct");
  CHECK(task["size"] == 128);
  const json& f = task["fields"];
  CHECK(f["tasks"] == json{{"offset", 8}, {"type", {{"kind", "struct"}, {"name", "list_head"}}}});
  CHECK(f["state"]["type"] == json{{"kind", "enum"}, {"name", "task_state"}});
  // Typedef chains resolve to the base type.
  CHECK(f["pid"] == json{{"offset", 24}, {"type", base("int")}});
  // A typedef of an anonymous struct is referred to by the typedef's name,
  // and defined under it.
  CHECK(f["usage"]["type"] == json{{"kind", "struct"}, {"name", "atomic_t"}});
  REQUIRE(types.contains("atomic_t"));
  CHECK(types["atomic_t"]["fields"]["counter"]["type"] == base("int"));
  CHECK(types["pgd_t"]["size"] == 8);
  // Bitfields: byte offset of the bit offset, bit position within that byte.
  CHECK(f["flags_low"] == json{{"offset", 4},
                               {"type", {{"bit_length", 4}, {"bit_position", 0}, {"kind", "bitfield"}, {"type", base("unsigned int")}}}});
  CHECK(f["flags_high"]["offset"] == 4);
  CHECK(f["flags_high"]["type"]["bit_position"] == 4);
  CHECK(f["flags_high"]["type"]["bit_length"] == 20);
  CHECK(f["prio"]["offset"] == 7);
  CHECK(f["prio"]["type"]["bit_position"] == 0);
  // Old BTF's bitfields live in the INT type.
  CHECK(types["legacy"]["fields"]["three"]["type"]["kind"] == "bitfield");
  CHECK(types["legacy"]["fields"]["three"]["type"]["bit_length"] == 3);
  CHECK(types["legacy"]["fields"]["three"]["type"]["bit_position"] == 5);
  // Anonymous members: numbered in hex, flagged, typed by a content hash.
  REQUIRE(f.contains("unnamed_field_0"));
  REQUIRE(f.contains("unnamed_field_1"));
  REQUIRE(f.contains("unnamed_field_2"));
  CHECK(f["unnamed_field_0"]["anonymous"] == true);
  CHECK(f["unnamed_field_0"]["offset"] == 32);
  const std::string union_a = f["unnamed_field_0"]["type"]["name"];
  const std::string union_b = f["unnamed_field_1"]["type"]["name"];
  const std::string union_c = f["unnamed_field_2"]["type"]["name"];
  CHECK(f["unnamed_field_0"]["type"]["kind"] == "union");
  CHECK(union_a.rfind("unnamed_", 0) == 0);
  CHECK(union_a.size() == std::string("unnamed_").size() + 16);
  CHECK(union_a == union_b);  // identical definitions share a name
  CHECK(union_a != union_c);
  REQUIRE(types.contains(union_a));
  CHECK(types[union_a]["kind"] == "union");
  CHECK(types[union_a]["fields"]["b"]["type"]["kind"] == "pointer");
  // Pointers, arrays of arrays, flexible arrays, function pointers.
  CHECK(f["parent"]["type"] == json{{"kind", "pointer"}, {"subtype", {{"kind", "struct"}, {"name", "task_struct"}}}});
  CHECK(f["comm"]["type"] == json{{"count", 16}, {"kind", "array"}, {"subtype", base("char")}});
  CHECK(f["grid"]["type"] ==
        json{{"count", 2}, {"kind", "array"}, {"subtype", {{"count", 3}, {"kind", "array"}, {"subtype", base("unsigned int")}}}});
  CHECK(f["tail"]["type"]["count"] == 0);
  CHECK(f["handler"]["type"] == json{{"kind", "pointer"}, {"subtype", {{"kind", "function"}}}});

  // Enums: constants as signed 64-bit, base by size and sign.
  const json& enums = isf["enums"];
  CHECK(enums["task_state"] == json{{"base", "unsigned int"}, {"constants", {{"DEAD", 16}, {"RUNNING", 0}}}, {"size", 4}});
  CHECK(enums["signed_thing"]["base"] == "int");
  CHECK(enums["signed_thing"]["constants"]["NEG"] == -5);
  CHECK(enums["wide"]["constants"]["WIDE_HIGH"] == -256);
  CHECK(enums["wide"]["base"] == "long int");

  CHECK(report.user_types == types.size());
  CHECK(report.enums == 3);
}

TEST_CASE("ISF from BTF: symbols and metadata of a miniature kernel") {
  MiniKernel k;
  Btf btf = Btf::parse(k.b.bytes(), "mini.btf");
  IsfFromBtfOptions options;
  options.banner = "Linux version 9.9.9-mini (x@y) #1 SMP";
  options.system_map_sha256 = "00ff";
  IsfFromBtfReport report;
  json isf = isf_from_btf(btf, k.map(), options, &report);

  const json& meta = isf["metadata"];
  CHECK(meta["format"] == "6.2.0");
  CHECK(meta["producer"]["name"] == "memscope");
  CHECK(meta["producer"]["version"].get<std::string>().find('.') != std::string::npos);
  CHECK(meta["linux"]["symbols"] ==
        json::array({{{"hash_type", "sha256"}, {"hash_value", "00ff"}, {"kind", "system-map"}, {"name", "System.map-mini"}}}));

  const json& sym = isf["symbols"];
  CHECK(sym["init_task"] == json{{"address", 0xffffffff82000000ull}, {"type", {{"kind", "struct"}, {"name", "task_struct"}}}});
  CHECK(sym["modules"]["type"] == json{{"kind", "struct"}, {"name", "list_head"}});
  CHECK(sym["init_top_pgt"]["type"] == json{{"count", 0}, {"kind", "array"}, {"subtype", {{"kind", "struct"}, {"name", "pgd_t"}}}});
  CHECK(sym["sys_call_table"]["type"] ==
        json{{"count", 0}, {"kind", "array"}, {"subtype", {{"kind", "pointer"}, {"subtype", {{"kind", "function"}}}}}});
  CHECK(sym["startup_64"]["type"] == base("void"));
  CHECK(sym["_text"]["type"] == json{{"count", 0}, {"kind", "array"}, {"subtype", base("char")}});
  // log_buf_len is a u32, which this BTF lacks: left untyped, with a warning.
  CHECK(sym["log_buf_len"]["type"] == base("void"));
  bool warned = false;
  for (const std::string& w : report.warnings) warned = warned || w.find("log_buf_len") != std::string::npos;
  CHECK(warned);
  // Per-CPU variables: typed by BTF; missing ones added at their offset.
  CHECK(sym["current_task"] ==
        json{{"address", 0x100}, {"type", {{"kind", "pointer"}, {"subtype", {{"kind", "struct"}, {"name", "task_struct"}}}}}});
  CHECK(sym["cpu_number"] == json{{"address", 0x208}, {"type", base("int")}});
  CHECK(report.percpu_symbols_added == 1);
  CHECK(report.symbols_typed_by_btf == 2);
  // Repeated names: the last wins.
  CHECK(sym["twice"]["address"] == 0xffffffff82007000ull);
  CHECK(report.duplicate_symbols == 1);
  // The banner, as dwarf2json stores it: bytes + "\n" + NUL, base64.
  CHECK(sym["linux_banner"]["constant_data"] == base64_encode(*options.banner + "\n" + std::string(1, '\0')));
  CHECK(sym["linux_banner"]["type"] == json{{"count", 0}, {"kind", "array"}, {"subtype", base("char")}});
  CHECK(report.symbols == sym.size());
}

TEST_CASE("Profile from BTF: a name listed twice keeps the last address / the other is found by address") {
  MiniKernel k;
  Btf btf = Btf::parse(k.b.bytes(), "mini.btf");
  auto profile = profile_from_btf(btf, k.map(), ProfileFromBtfOptions{});
  CHECK(profile->symbol("twice") == 0xffffffff82007000ull);
  const SymbolInfo* in_first = profile->nearest_symbol(0xffffffff82006010ull);
  REQUIRE(in_first);
  CHECK(profile->name(*in_first) == "twice");
  CHECK(in_first->address == 0xffffffff82006000ull);
  CHECK(in_first->repeat());
  const SymbolInfo* in_last = profile->nearest_symbol(0xffffffff82007010ull);
  REQUIRE(in_last);
  CHECK(in_last->address == 0xffffffff82007000ull);
  CHECK_FALSE(in_last->repeat());
  profile->verify();
}

TEST_CASE("Profile from BTF: on the fixture every System.map address is found by address / none lost to its name") {
  const SystemMap map = load_system_map(test::fixture("System.map"));
  ProfileFromBtfOptions options;
  auto profile = profile_from_btf(Btf::load(test::fixture("vmlinux.btf")), map, options);
  std::map<std::string_view, std::set<uint64_t>> addresses;
  for (const SystemMapSymbol& s : map.symbols) addresses[s.name].insert(s.address);
  size_t repeated = 0, checked = 0;
  for (const SystemMapSymbol& s : map.symbols) {
    if (addresses[s.name].size() < 2) continue;
    ++repeated;
    // The nearest symbol at the address is one that starts there (of
    // aliases at one address any may answer): never a symbol below it.
    const SymbolInfo* found = profile->nearest_symbol(s.address);
    REQUIRE(found);
    INFO(s.name << " at " << hex(s.address));
    CHECK(found->address == s.address);
    ++checked;
  }
  // A real kernel's System.map repeats names (static symbols of one name
  // in several files): the test must have met some.
  CHECK(repeated > 0);
  CHECK(checked == repeated);
}

TEST_CASE("ISF from BTF: every reference names a defined type / every entry has the ISF shape") {
  MiniKernel k;
  Btf btf = Btf::parse(k.b.bytes(), "mini.btf");
  json isf = isf_from_btf(btf, k.map(), {});
  const json& types = isf["user_types"];
  const json& bases = isf["base_types"];
  const json& enums = isf["enums"];
  std::vector<std::string> problems;
  std::function<void(const json&, const std::string&)> check_ref = [&](const json& t, const std::string& where) {
    const std::string kind = t.at("kind");
    if (kind == "base") {
      if (!bases.contains(t.at("name").get<std::string>())) problems.push_back(where + ": base " + t.dump());
    } else if (kind == "struct" || kind == "union") {
      // Forward-declared-only structs may stay undefined (pt_regs here).
      if (!types.contains(t.at("name").get<std::string>()) && t.at("name") != "pt_regs")
        problems.push_back(where + ": " + t.dump());
    } else if (kind == "enum") {
      if (!enums.contains(t.at("name").get<std::string>())) problems.push_back(where + ": " + t.dump());
    } else if (kind == "pointer" || kind == "array") {
      check_ref(t.at("subtype"), where);
    } else if (kind == "bitfield") {
      check_ref(t.at("type"), where);
    } else if (kind != "function") {
      problems.push_back(where + ": kind " + kind);
    }
  };
  for (const auto& [name, type] : types.items()) {
    CHECK(type.at("size").is_number_unsigned());
    CHECK((type.at("kind") == "struct" || type.at("kind") == "union"));
    for (const auto& [field_name, field] : type.at("fields").items()) {
      CHECK(field.at("offset").is_number_unsigned());
      check_ref(field.at("type"), name + "." + field_name);
    }
  }
  for (const auto& [name, symbol] : isf["symbols"].items()) {
    CHECK(symbol.at("address").is_number_unsigned());
    check_ref(symbol.at("type"), name);
  }
  INFO(problems.size() << " problems, first: " << (problems.empty() ? "" : problems.front()));
  CHECK(problems.empty());
}

TEST_CASE("ISF from BTF: anonymous structs containing each other (forged) terminate") {
  BtfBlobBuilder b;
  uint32_t first = b.next_id();
  b.record("", 8, {{"inner", first + 1, 0, 0}});
  b.record("", 8, {{"outer", first, 0, 0}});
  b.record("holder", 8, {{"", first, 0, 0}});
  Btf btf = Btf::parse(b.bytes(), "forged.btf");
  SystemMap map = parse_system_map("ffffffff81000000 T _text\n", "map");
  json isf = isf_from_btf(btf, map, {});
  CHECK(isf["user_types"]["holder"]["fields"]["unnamed_field_0"]["type"]["kind"] == "struct");
}

// ------------------------------------------------------------------ writer

TEST_CASE("ISF writer: .json and .json.xz round trip / atomically") {
  MiniKernel k;
  Btf btf = Btf::parse(k.b.bytes(), "mini.btf");
  json isf = isf_from_btf(btf, k.map(), {});
  test::TempDir dir("isf-writer");

  write_isf(isf, dir.file("mini.json"));
  write_isf(isf, dir.file("mini.json.xz"), IsfWriteOptions{2, 1, 1});
  write_isf(isf, dir.file("mini-mt.json.xz"), IsfWriteOptions{-1, 0, 2});
  CHECK(json::parse(read_isf_text(dir.file("mini.json"))) == isf);
  CHECK(json::parse(read_isf_text(dir.file("mini.json.xz"))) == isf);
  CHECK(json::parse(read_isf_text(dir.file("mini-mt.json.xz"))) == isf);
  const std::string raw = read_isf_text(dir.file("mini.json"));
  CHECK(raw.find('\n') == std::string::npos);  // compact by default

  // The .xz really is xz.
  std::string header = read_isf_text(dir.file("mini.json.xz")).substr(0, 1);
  CHECK(header == "{");
  {
    MappedFile xz(dir.file("mini.json.xz"));
    CHECK(std::string(xz.bytes(0, 6)) == std::string("\xfd" "7zXZ\0", 6));
  }

  // Overwriting replaces the file; no temporary file is left behind.
  json other = json{{"metadata", {{"format", "6.2.0"}}}};
  write_isf(other, dir.file("mini.json"));
  CHECK(json::parse(read_isf_text(dir.file("mini.json"))) == other);
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    (void)entry;
    ++files;
  }
  CHECK(files == 3);

  CHECK_THROWS_WITH(write_isf(isf, dir.file("no/such/dir/x.json")), Catch::Contains("no/such/dir/x.json"));
  CHECK(isf_path_is_xz("a.json.xz"));
  CHECK_FALSE(isf_path_is_xz("a.json"));
  CHECK_FALSE(isf_path_is_xz("xz"));
}

TEST_CASE("ISF writer: reading is bounded and refuses corrupt xz") {
  test::TempDir dir("isf-reader");
  json big = json::array();
  for (int i = 0; i < 2000; ++i) big.push_back("some text to compress " + std::to_string(i));
  write_isf(big, dir.file("big.json.xz"));
  CHECK_THROWS_WITH(read_isf_text(dir.file("big.json.xz"), 1000), Catch::Contains("more than 1000 bytes"));
  CHECK_NOTHROW(read_isf_text(dir.file("big.json.xz")));

  MappedFile good(dir.file("big.json.xz"));
  std::string bytes(good.bytes(0, good.size()));
  bytes[bytes.size() / 2] ^= 0x55;
  test::TempFile corrupt("corrupt.json.xz");
  corrupt.write(bytes);
  CHECK_THROWS_AS(read_isf_text(corrupt.path()), FormatError);
  test::TempFile truncated("truncated.json.xz");
  truncated.write(bytes.substr(0, bytes.size() / 3));
  CHECK_THROWS_AS(read_isf_text(truncated.path()), FormatError);
}

// ------------------------------------------ the fixture against dwarf2json's

namespace {

// What the comparison cannot hold against BTF: anonymous types are named by
// different hashes (dwarf2json hashes Go's rendering of DWARF), and pahole
// flattens multi-dimensional arrays (int a[2][3] is int a[6] in BTF). Both
// are normalised away; everything else must be identical.
json normalise(const json& t) {
  if (!t.is_object()) return t;
  if (t.value("kind", "") == "array") {
    uint64_t count = t.at("count");
    const json* sub = &t.at("subtype");
    while (sub->value("kind", "") == "array") {
      count *= sub->at("count").get<uint64_t>();
      sub = &sub->at("subtype");
    }
    return json{{"count", count}, {"kind", "array"}, {"subtype", normalise(*sub)}};
  }
  json out = json::object();
  for (const auto& [key, value] : t.items()) {
    if (key == "name" && value.is_string() && value.get<std::string>().rfind("unnamed_", 0) == 0)
      out[key] = "<anonymous>";
    else
      out[key] = normalise(value);
  }
  return out;
}

// Every field of a struct, including those reached through anonymous
// members (the way Volatility and memscope look fields up), with the offset
// accumulated.
void flatten(const json& isf, const json& record, uint64_t base, std::map<std::string, std::pair<uint64_t, json>>& out,
             int depth = 0) {
  REQUIRE(depth < 8);
  for (const auto& [name, field] : record.at("fields").items()) {
    const uint64_t offset = base + field.at("offset").get<uint64_t>();
    if (field.value("anonymous", false)) {
      const std::string inner = field.at("type").at("name");
      REQUIRE(isf["user_types"].contains(inner));
      flatten(isf, isf["user_types"][inner], offset, out, depth + 1);
    } else {
      out[name] = {offset, normalise(field.at("type"))};
    }
  }
}

struct FixtureProfiles {
  json ours, theirs;
  std::set<std::string> duplicated_names;  // struct/union names BTF defines more than once
  IsfFromBtfReport report;
};

const FixtureProfiles& fixture_profiles() {
  static const FixtureProfiles profiles = [] {
    FixtureProfiles p;
    IsfFromBtfOptions options;
    options.banner = test::truth()["linux_banner"].get<std::string>();
    Btf btf = Btf::load(test::fixture("vmlinux.btf"));
    p.ours = isf_from_btf(btf, load_system_map(test::fixture("System.map")), options, &p.report);
    p.theirs = json::parse(read_isf_text(test::fixture_file("isf.json.xz")));
    std::map<std::string, int> seen;
    for (const BtfType& t : btf.types())
      if ((t.kind == BtfKind::kStruct || t.kind == BtfKind::kUnion) && !t.name.empty() && ++seen[std::string(t.name)] > 1)
        p.duplicated_names.insert(std::string(t.name));
    return p;
  }();
  return profiles;
}

}  // namespace

TEST_CASE("ISF from BTF: the structures analyses use match dwarf2json's profile") {
  const FixtureProfiles& p = fixture_profiles();
  const json& ours = p.ours["user_types"];
  const json& theirs = p.theirs["user_types"];

  // Fields named by the analyses; "a|b" accepts whichever this kernel has.
  const std::map<std::string, std::vector<std::string>> used = {
      {"task_struct", {"tasks", "pid", "tgid", "comm", "real_parent", "parent", "cred", "real_cred", "mm", "active_mm",
                       "start_time", "signal", "thread_group|thread_node", "flags", "__state|state", "group_leader",
                       "children", "sibling", "files", "fs", "nsproxy", "exit_state", "thread_pid"}},
      {"cred", {"uid", "gid", "euid", "egid", "suid", "sgid", "fsuid", "fsgid"}},
      {"kuid_t", {"val"}},
      {"kgid_t", {"val"}},
      {"mm_struct", {"pgd", "arg_start", "arg_end", "env_start", "env_end", "mmap|mm_mt", "start_brk", "brk", "start_stack"}},
      {"vm_area_struct", {"vm_start", "vm_end", "vm_flags", "vm_file", "vm_pgoff", "vm_mm"}},
      {"module", {"list", "name", "state", "refcnt", "mem|core_layout", "init_layout|mem", "args", "kallsyms"}},
      {"module_layout", {"base", "size"}},
      {"list_head", {"next", "prev"}},
      {"hlist_node", {"next", "pprev"}},
      {"hlist_head", {"first"}},
      {"printk_ringbuffer", {"desc_ring", "text_data_ring", "fail"}},
      {"prb_desc_ring", {"count_bits", "descs", "infos", "head_id", "tail_id"}},
      {"prb_data_ring", {"size_bits", "data", "head_lpos", "tail_lpos"}},
      {"printk_info", {"seq", "ts_nsec", "text_len", "facility", "flags", "level", "caller_id", "dev_info"}},
      {"prb_desc", {"state_var", "text_blk_lpos"}},
      {"prb_data_blk_lpos", {"begin", "next"}},
      {"signal_struct", {"nr_threads", "thread_head", "pids"}},
      {"atomic_t", {"counter"}},
      {"atomic64_t", {"counter"}},
      {"pid_namespace", {"level", "parent", "pid_allocated"}},
      {"uts_namespace", {"name"}},
      {"new_utsname", {"sysname", "nodename", "release", "version", "machine", "domainname"}},
      {"pid", {"numbers", "level"}},
      {"upid", {"nr", "ns"}},
      {"nsproxy", {"uts_ns", "pid_ns_for_children", "mnt_ns"}},
      {"files_struct", {"fdt"}},
      {"fdtable", {"fd", "max_fds"}},
      {"file", {"f_path", "f_inode"}},
      {"path", {"dentry", "mnt"}},
      {"dentry", {"d_name", "d_parent"}},
      {"qstr", {"name"}},
      {"kobject", {"name", "entry", "parent"}},
      {"kset", {"list", "kobj"}},
      {"module_kobject", {"kobj", "mod"}},
      {"mod_tree_root", {"root"}},
      {"kernel_symbol", {"value_offset", "name_offset"}},
  };
  size_t compared_fields = 0;
  for (const auto& [type_name, fields] : used) {
    INFO("struct " << type_name);
    REQUIRE(theirs.contains(type_name));
    REQUIRE(ours.contains(type_name));
    CHECK(ours[type_name]["size"] == theirs[type_name]["size"]);
    CHECK(ours[type_name]["kind"] == theirs[type_name]["kind"]);
    std::map<std::string, std::pair<uint64_t, json>> mine, reference;
    flatten(p.ours, ours[type_name], 0, mine);
    flatten(p.theirs, theirs[type_name], 0, reference);
    // The fields analyses name exist (one of the alternatives at least)...
    for (const std::string& spec : fields) {
      INFO("field " << spec);
      bool present = false;
      size_t start = 0;
      while (start <= spec.size()) {
        size_t bar = spec.find('|', start);
        std::string name = spec.substr(start, bar == std::string::npos ? std::string::npos : bar - start);
        present = present || reference.count(name);
        if (bar == std::string::npos) break;
        start = bar + 1;
      }
      CHECK(present);
    }
    // ...and every field, named ones and those through anonymous members,
    // has the reference's offset and type (bitfield positions included).
    CHECK(mine.size() == reference.size());
    for (const auto& [name, where] : reference) {
      INFO("field " << name);
      REQUIRE(mine.count(name));
      CHECK(mine.at(name).first == where.first);
      CHECK(mine.at(name).second == where.second);
      ++compared_fields;
    }
  }
  CHECK(compared_fields > 500);
}

TEST_CASE("ISF from BTF: the whole fixture profile matches dwarf2json's types") {
  const FixtureProfiles& p = fixture_profiles();
  auto named = [](const json& section) {
    std::set<std::string> names;
    for (const auto& [name, value] : section.items())
      if (name.rfind("unnamed_", 0) != 0) names.insert(name);
    return names;
  };
  CHECK(named(p.ours["user_types"]) == named(p.theirs["user_types"]));
  CHECK(named(p.ours["enums"]) == named(p.theirs["enums"]));
  for (const auto& [name, info] : p.theirs["base_types"].items()) {
    if (name == "ssizetype") continue;  // a DWARF artefact of gcc; BTF keeps it only when used
    INFO("base type " << name);
    REQUIRE(p.ours["base_types"].contains(name));
    CHECK(p.ours["base_types"][name] == info);
  }

  size_t differing = 0, compared = 0;
  std::string first_difference;
  for (const std::string& name : named(p.theirs["user_types"])) {
    if (p.duplicated_names.count(name)) continue;  // which definition wins is arbitrary
    const json& mine = p.ours["user_types"][name];
    const json& reference = p.theirs["user_types"][name];
    bool same = mine["size"] == reference["size"] && mine["kind"] == reference["kind"] &&
                mine["fields"].size() == reference["fields"].size();
    for (const auto& [field, info] : reference["fields"].items()) {
      if (!same) break;
      same = mine["fields"].contains(field) && mine["fields"][field]["offset"] == info["offset"] &&
             normalise(mine["fields"][field]["type"]) == normalise(info["type"]) &&
             mine["fields"][field].value("anonymous", false) == info.value("anonymous", false);
    }
    ++compared;
    if (!same && ++differing == 1) first_difference = name;
  }
  INFO("first differing type: " << first_difference);
  CHECK(compared > 7000);
  CHECK(differing == 0);

  size_t enum_differences = 0;
  for (const std::string& name : named(p.theirs["enums"])) {
    const json& reference = p.theirs["enums"][name];
    if (reference["size"] == 0) continue;  // a declaration only: dwarf2json has no size
    if (p.ours["enums"][name] != reference) ++enum_differences;
  }
  CHECK(enum_differences <= 1);  // one enum name has two definitions in this kernel
}

TEST_CASE("ISF from BTF: fixture symbols / their types and the banner") {
  const FixtureProfiles& p = fixture_profiles();
  const json& ours = p.ours["symbols"];
  const json& theirs = p.theirs["symbols"];
  const json& truth = test::truth();
  const uint64_t slide = parse_u64(truth["kaslr_offset"].get<std::string>(), "kaslr_offset");
  for (const auto& [name, value] : truth["symbols"].items()) {
    INFO("symbol " << name);
    REQUIRE(ours.contains(name));
    REQUIRE(theirs.contains(name));
    const uint64_t address = ours[name]["address"];
    CHECK(address == theirs[name]["address"].get<uint64_t>());
    const uint64_t runtime = parse_u64(value.get<std::string>(), name);
    CHECK((runtime == address || runtime == address + slide));
  }

  for (const char* name : {"init_task", "modules", "init_top_pgt", "prb", "printk_rb_static", "log_buf", "log_buf_len",
                           "init_mm", "init_uts_ns", "sys_call_table", "linux_banner", "jiffies", "page_offset_base",
                           "vmalloc_base", "vmemmap_base", "module_kset", "mod_tree", "init_pid_ns", "current_task",
                           "init_cred", "tasklist_lock", "phys_base", "runqueues", "this_cpu_off", "_text", "_etext"}) {
    INFO("symbol " << name);
    REQUIRE(ours.contains(name));
    CHECK(normalise(ours[name]["type"]) == normalise(theirs[name]["type"]));
  }

  // Every per-CPU variable BTF describes has dwarf2json's type.
  size_t percpu = 0, percpu_differences = 0;
  for (const auto& [name, symbol] : ours.items()) {
    if (!theirs.contains(name) || symbol["address"] != theirs[name]["address"]) continue;
    if (symbol["address"].get<uint64_t>() >= 0x100000) continue;  // per-CPU offsets are small
    if (symbol["type"] == json{{"kind", "base"}, {"name", "void"}}) continue;
    ++percpu;
    if (normalise(symbol["type"]) != normalise(theirs[name]["type"])) ++percpu_differences;
  }
  CHECK(percpu > 300);
  CHECK(percpu_differences == 0);
  CHECK(p.report.symbols_typed_by_btf > 300);

  CHECK(ours["linux_banner"]["constant_data"] == theirs["linux_banner"]["constant_data"]);
  CHECK(p.ours["metadata"]["format"] == "6.2.0");
}
