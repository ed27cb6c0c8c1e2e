// The typed object API on a small hand-made profile and an in-memory
// address space: every kind of member, bitfields, enums, unions, anonymous
// members, strings, container_of and bounded list walks over broken lists.
#include <catch2/catch.hpp>

#include <cstring>
#include <nlohmann/json.hpp>

#include <map>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/types/object.h"
#include "core/layers/x86_64_paging.h"
#include "core/layers/format_registry.h"
#include "profiles/isf/isf_loader.h"
#include "support/buffer_space.h"
#include "support/fixtures.h"

using namespace memscope;
using nlohmann::json;

namespace {

json base(int size, bool is_signed, const char* kind) {
  return {{"size", size}, {"signed", is_signed}, {"kind", kind}, {"endian", "little"}};
}
json named(const char* kind, const char* name) { return {{"kind", kind}, {"name", name}}; }
json pointer_to(json target) { return {{"kind", "pointer"}, {"subtype", std::move(target)}}; }
json array_of(json element, int count) { return {{"kind", "array"}, {"count", count}, {"subtype", std::move(element)}}; }
json bitfield(int position, int length, const char* base_name) {
  return {{"kind", "bitfield"}, {"bit_position", position}, {"bit_length", length}, {"type", named("base", base_name)}};
}
json field(json type, int offset) { return {{"type", std::move(type)}, {"offset", offset}}; }

// struct item layout (size 120):
//   0 id int | 4 lo:3 mid:5 (unsigned) | 5 neg:4 (signed) | 8 wide:62 at bit 2 (u64)
//   16 color enum | 20 name char[8] | 32 label char* | 40 next_item struct item*
//   48 link list_head | 64 node hlist_node | 80 embedded struct inner
//   88 val union value | 96 anonymous struct {x, y} | 104 values int[3]
std::string test_isf() {
  json isf;
  isf["metadata"] = {{"format", "6.2.0"}, {"producer", {{"name", "handmade"}, {"version", "1.0.0"}}}};
  isf["base_types"] = {{"char", base(1, true, "char")},
                       {"int", base(4, true, "int")},
                       {"unsigned int", base(4, false, "int")},
                       {"long unsigned int", base(8, false, "int")},
                       {"_Bool", base(1, false, "bool")},
                       {"double", base(8, true, "float")},
                       {"pointer", base(8, false, "int")},
                       {"void", base(0, false, "void")}};
  json item_fields = {
      {"id", field(named("base", "int"), 0)},
      {"lo", field(bitfield(0, 3, "unsigned int"), 4)},
      {"mid", field(bitfield(3, 5, "unsigned int"), 4)},
      {"neg", field(bitfield(0, 4, "int"), 5)},
      {"wide", field(bitfield(2, 62, "long unsigned int"), 8)},
      {"color", field(named("enum", "color"), 16)},
      {"name", field(array_of(named("base", "char"), 8), 20)},
      {"label", field(pointer_to(named("base", "char")), 32)},
      {"next_item", field(pointer_to(named("struct", "item")), 40)},
      {"link", field(named("struct", "list_head"), 48)},
      {"node", field(named("struct", "hlist_node"), 64)},
      {"embedded", field(named("struct", "inner"), 80)},
      {"val", field(named("union", "value"), 88)},
      {"unnamed_field_0", {{"type", named("struct", "unnamed_1234")}, {"offset", 96}, {"anonymous", true}}},
      {"values", field(array_of(named("base", "int"), 3), 104)},
      {"ghost", field(pointer_to(named("struct", "ghost")), 112)},
  };
  isf["user_types"] = {
      {"item", {{"kind", "struct"}, {"size", 120}, {"fields", item_fields}}},
      {"list_head",
       {{"kind", "struct"},
        {"size", 16},
        {"fields",
         {{"next", field(pointer_to(named("struct", "list_head")), 0)},
          {"prev", field(pointer_to(named("struct", "list_head")), 8)}}}}},
      {"hlist_node",
       {{"kind", "struct"},
        {"size", 16},
        {"fields",
         {{"next", field(pointer_to(named("struct", "hlist_node")), 0)},
          {"pprev", field(pointer_to(pointer_to(named("struct", "hlist_node"))), 8)}}}}},
      {"hlist_head",
       {{"kind", "struct"}, {"size", 8}, {"fields", {{"first", field(pointer_to(named("struct", "hlist_node")), 0)}}}}},
      {"inner",
       {{"kind", "struct"},
        {"size", 8},
        {"fields", {{"a", field(named("base", "int"), 0)}, {"b", field(named("base", "int"), 4)}}}}},
      {"value",
       {{"kind", "union"},
        {"size", 8},
        {"fields",
         {{"as_int", field(named("base", "int"), 0)},
          {"as_bytes", field(array_of(named("base", "char"), 4), 0)},
          {"as_long", field(named("base", "long unsigned int"), 0)}}}}},
      {"unnamed_1234",
       {{"kind", "struct"},
        {"size", 8},
        {"fields", {{"x", field(named("base", "int"), 0)}, {"y", field(named("base", "int"), 4)}}}}},
  };
  isf["enums"] = {{"color",
                   {{"size", 4},
                    {"base", "int"},
                    {"constants", {{"RED", 0}, {"GREEN", 1}, {"BLUE", 2}, {"NONE", -1}}}}}};
  isf["symbols"] = {{"items", {{"address", 0x1000}, {"type", named("struct", "list_head")}}},
                    {"hash", {{"address", 0x1010}, {"type", named("struct", "hlist_head")}}},
                    {"untyped", {{"address", 0x1020}}}};
  return isf.dump();
}

const Profile& profile() {
  static std::shared_ptr<const Profile> p = parse_isf_text(test_isf(), "handmade.json");
  return *p;
}

constexpr uint64_t kItems = 0x10000;  // item i at kItems + i * 0x100
uint64_t item_address(int i) { return kItems + uint64_t(i) * 0x100; }
uint64_t link_of(int i) { return item_address(i) + 48; }

template <typename T>
void put(test::BufferSpace& space, uint64_t address, T value) {
  space.put(address, &value, sizeof value);
}

// Three items linked in a ring through `items` (0x1000).
void build_list(test::BufferSpace& space) {
  space.map(0x1000, 0x1000);
  const uint64_t head = 0x1000;
  uint64_t nodes[] = {link_of(0), link_of(1), link_of(2)};
  put<uint64_t>(space, head, nodes[0]);
  put<uint64_t>(space, head + 8, nodes[2]);
  for (int i = 0; i < 3; ++i) {
    space.map(item_address(i), 120);
    put<int32_t>(space, item_address(i), 100 + i);
    put<uint64_t>(space, nodes[i], i < 2 ? nodes[i + 1] : head);
    put<uint64_t>(space, nodes[i] + 8, i > 0 ? nodes[i - 1] : head);
  }
}

std::vector<int> walk_ids(ListWalk& walk) {
  std::vector<int> ids;
  for (Object item : walk) ids.push_back(item["id"].value<int>());
  return ids;
}

}  // namespace

TEST_CASE("members / pointers / arrays / embedded structs and unions") {
  test::BufferSpace space;
  uint64_t a = item_address(0), b = item_address(1);
  space.map(a, 0x200);
  put<int32_t>(space, a, 42);
  space.put(a + 20, "abc", 4);
  space.put_string(0x5000, "a label");
  put<uint64_t>(space, a + 32, 0x5000);
  put<uint64_t>(space, a + 40, b);
  put<int32_t>(space, b, 43);
  put<int32_t>(space, a + 80, 7);
  put<int32_t>(space, a + 84, -8);
  put<uint32_t>(space, a + 88, 0x64636261);  // "abcd"
  put<int32_t>(space, a + 96, 11);
  put<int32_t>(space, a + 100, 12);
  for (int i = 0; i < 3; ++i) put<int32_t>(space, a + 104 + 4 * i, 1000 + i);

  Object item(profile(), space, "item", a);
  CHECK(item.size() == 120);
  CHECK(item.type_name() == "struct item");
  CHECK(item["id"].value<int>() == 42);
  CHECK(item["id"].address() == a);
  CHECK(item["name"].as_string() == "abc");
  CHECK(item["label"].as_string() == "a label");
  CHECK(item["label"].pointer() == 0x5000);
  CHECK(item["next_item"].deref()["id"].value<int>() == 43);
  CHECK(item["next_item->id"].value<int>() == 43);
  CHECK(item["embedded.a"].value<int>() == 7);
  CHECK(item["embedded"]["b"].value<int>() == -8);
  CHECK(item["embedded.b"].as_i64() == -8);
  CHECK(item["embedded.b"].as_u64() == 0xfffffff8u);

  // A union: every member at the same address, each with its own type.
  CHECK(item["val.as_int"].as_u64() == 0x64636261u);
  CHECK(item["val"]["as_bytes"].as_string() == "abcd");
  CHECK(item["val.as_bytes"].at(1).value<char>() == 'b');
  CHECK(item["val.as_long"].address() == item["val.as_int"].address());

  // Anonymous struct members are reached by their own names.
  CHECK(item.has_member("x"));
  CHECK(item["x"].value<int>() == 11);
  CHECK(item["y"].address() == a + 100);
  CHECK(profile().find_member(item.type(), "y")->offset == 100);

  // Arrays: bounds-checked; pointers index what they point to.
  CHECK(item["values"].count() == 3);
  CHECK(item["values"].at(2).value<int>() == 1002);
  CHECK_THROWS_AS(item["values"].at(3), ProfileError);
  CHECK(item["label"].at(2).value<char>() == 'l');

  // Casts and value conversions.
  CHECK(item["id"].cast("unsigned int").value<uint32_t>() == 42u);
  CHECK(item["id"].value<bool>());
  CHECK(item["id"].value<uint8_t>() == 42);
  CHECK(item.cast("inner")["a"].value<int>() == 42);

  // Pre-resolved fields: same answers, no name lookup per object.
  FieldRef embedded_b = profile().field("item", "embedded.b");
  CHECK(embedded_b.offset == 84);
  CHECK(item[embedded_b].value<int>() == -8);
  CHECK_THROWS_AS(item["embedded"][embedded_b], ProfileError);
  CHECK(profile().offset_of("item", "embedded.b") == 84);
  CHECK(profile().offset_of("item", "y") == 100);
}

TEST_CASE("bitfields read little-endian / signed ones sign-extended") {
  test::BufferSpace space;
  uint64_t a = item_address(0);
  space.map(a, 0x100);
  // lo = 5 (bits 0-2), mid = 19 (bits 3-7) in the byte at 4; neg = -3 in the low nibble at 5.
  uint8_t byte4 = uint8_t(5 | 19 << 3);
  uint8_t byte5 = uint8_t(0xd0 | (-3 & 0xf));
  space.put(a + 4, &byte4, 1);
  space.put(a + 5, &byte5, 1);
  // wide: 62 bits starting at bit 2 of the u64 at 8.
  uint64_t wide = 0x2345678912345678ull & ((1ull << 62) - 1);
  put<uint64_t>(space, a + 8, wide << 2 | 0x3);

  Object item(profile(), space, "item", a);
  CHECK(item["lo"].type().kind == TypeKind::kBitfield);
  CHECK(item["lo"].as_u64() == 5);
  CHECK(item["mid"].as_u64() == 19);
  CHECK(item["neg"].as_i64() == -3);
  CHECK(item["neg"].value<int>() == -3);
  CHECK(item["neg"].as_u64() == 0xd);
  CHECK(item["wide"].as_u64() == wide);
  CHECK(profile().type_name(item["lo"].type_ref()) == "unsigned int :3");
}

TEST_CASE("enums give their value and the enumerator's name") {
  test::BufferSpace space;
  uint64_t a = item_address(0);
  space.map(a, 0x100);
  Object color = Object(profile(), space, "item", a)["color"];
  put<int32_t>(space, a + 16, 2);
  CHECK(color.enum_value() == 2);
  CHECK(color.enum_name() == "BLUE");
  put<int32_t>(space, a + 16, -1);
  CHECK(color.enum_value() == -1);
  CHECK(color.enum_name() == "NONE");
  put<int32_t>(space, a + 16, 77);
  CHECK_FALSE(color.enum_name().has_value());
  CHECK(profile().enum_constant("color", "GREEN") == 1);
  CHECK(profile().enum_constant("enum color", "GREEN") == 1);
  CHECK_FALSE(profile().enum_constant("color", "PURPLE").has_value());
  CHECK_THROWS_AS(Object(profile(), space, "item", a)["id"].enum_value(), ProfileError);
}

TEST_CASE("strings stop at NUL / at the length cap and at unreadable memory") {
  test::BufferSpace space;
  uint64_t a = item_address(0);
  space.map(a, 0x100);
  Object item(profile(), space, "item", a);

  // A full char[8] without NUL gives its 8 bytes.
  space.put(a + 20, "12345678", 8);
  CHECK(item["name"].as_string() == "12345678");
  CHECK(item["name"].as_string(3) == "123");

  // A char* to 5000 bytes without NUL: capped.
  std::string long_text(5000, 'A');
  space.put(0x20000, long_text.data(), long_text.size());
  space.map(0x20000, 0x3000);
  put<uint64_t>(space, a + 32, 0x20000);
  CHECK(item["label"].as_string(100) == std::string(100, 'A'));
  CHECK(item["label"].as_string(4096).size() == 4096);
  // Without a cap of its own, the max_string limit: a string it cuts is
  // no value, and the error names the limit (core/util/limits.h).
  CHECK_THROWS_AS(item["label"].as_string(), LimitError);
  CHECK_THROWS_WITH(item["label"].as_string(), Catch::Contains("max_string") && Catch::Contains("--max-string"));

  // A string running into unmapped memory is returned as far as it goes.
  space.put(0x30000 + 4096 - 3, "xyz", 3);
  put<uint64_t>(space, a + 32, 0x30000 + 4096 - 3);
  CHECK(item["label"].as_string() == "xyz");

  // Nothing readable, or NULL: ReadError.
  put<uint64_t>(space, a + 32, 0x990000);
  CHECK_THROWS_AS(item["label"].as_string(), ReadError);
  put<uint64_t>(space, a + 32, 0);
  CHECK_THROWS_AS(item["label"].as_string(), ReadError);
  CHECK_THROWS_AS(item["id"].as_string(), ProfileError);
}

TEST_CASE("errors name the field / the type and the profile") {
  test::BufferSpace space;
  space.map(item_address(0), 0x100);
  Object item(profile(), space, "item", item_address(0));

  CHECK_THROWS_WITH(item["nope"], Catch::Contains("nope") && Catch::Contains("handmade.json") &&
                                      Catch::Contains("struct item"));
  CHECK_THROWS_WITH(Object(profile(), space, "no_such_type", 0),
                    Catch::Contains("no type 'no_such_type'") && Catch::Contains("handmade.json"));
  CHECK_THROWS_WITH(profile().require_symbol("no_such_symbol"), Catch::Contains("no_such_symbol"));
  CHECK_THROWS_WITH(item["next_item.id"], Catch::Contains("->"));
  CHECK_THROWS_AS(item["id"].deref(), ProfileError);
  CHECK_THROWS_AS(item["embedded"].as_u64(), ProfileError);
  CHECK_THROWS_AS(item["embedded..a"], ProfileError);

  // NULL and wild pointers: ReadError naming the address.
  CHECK(item["next_item"].is_null());
  CHECK_THROWS_AS(item["next_item"].deref(), ReadError);
  CHECK_THROWS_AS(item["next_item->id"], ReadError);
  put<uint64_t>(space, item_address(0) + 40, 0xdead0000);
  try {
    (void)item["next_item->id"].value<int>();
    FAIL("no ReadError");
  } catch (const ReadError& e) {
    CHECK(e.address() == 0xdead0000);
  }

  // A pointer to a type the profile only names: usable as an address,
  // not as a struct.
  put<uint64_t>(space, item_address(0) + 112, item_address(0));
  Object ghost = item["ghost"].deref();
  CHECK(ghost.address() == item_address(0));
  CHECK_FALSE(ghost.type().defined);
  CHECK_THROWS_WITH(ghost["anything"], Catch::Contains("ghost"));
  CHECK(profile().find_type("ghost") == nullptr);
}

TEST_CASE("symbols give typed objects - container_of goes back to the struct") {
  test::BufferSpace space;
  build_list(space);
  Object head = symbol_object(profile(), space, "items");
  CHECK(head.type_name() == "struct list_head");
  CHECK(head.address() == 0x1000);
  CHECK(symbol_object(profile(), space, "items", 0x100).address() == 0x1100);
  CHECK_THROWS_WITH(symbol_object(profile(), space, "untyped"), Catch::Contains("untyped"));
  CHECK(symbol_object(profile(), space, "untyped", 0, "int").type_name() == "int");

  Object second = container_of(profile(), space, link_of(1), "item", "link");
  CHECK(second.address() == item_address(1));
  CHECK(second["id"].value<int>() == 101);
  CHECK(head["next"].deref().container_of("item", "link")["id"].value<int>() == 100);
}

TEST_CASE("list walks yield every entry of a well-formed list") {
  test::BufferSpace space;
  build_list(space);
  ListWalk walk = list_entries(symbol_object(profile(), space, "items"), "item", "link");
  CHECK(walk_ids(walk) == std::vector<int>{100, 101, 102});
  CHECK(walk.complete());
  CHECK(walk.yielded() == 3);

  // The range-for over a temporary works too.
  int count = 0;
  for (Object item : list_entries(symbol_object(profile(), space, "items"), "item", "link")) count += item["id"].value<int>() > 0;
  CHECK(count == 3);
}

TEST_CASE("a cycle stops the walk with a warning / keeping what was yielded") {
  test::BufferSpace space;
  build_list(space);
  put<uint64_t>(space, link_of(2), link_of(1));  // item 2 -> item 1, never back to the head
  ListWalk walk = list_entries(symbol_object(profile(), space, "items"), "item", "link");
  CHECK(walk_ids(walk) == std::vector<int>{100, 101, 102});
  REQUIRE(walk.warnings().size() == 1);
  CHECK_THAT(walk.warnings()[0], Catch::Contains("cycle"));
  CHECK_FALSE(walk.complete());
}

TEST_CASE("a pointer into unmapped memory stops the walk - earlier entries stay") {
  test::BufferSpace space;
  build_list(space);
  put<uint64_t>(space, link_of(1), 0x7777000);  // item 1 -> nowhere
  ListWalk walk = list_entries(symbol_object(profile(), space, "items"), "item", "link");
  CHECK(walk_ids(walk) == std::vector<int>{100, 101});
  REQUIRE(walk.warnings().size() == 1);
  CHECK_THAT(walk.warnings()[0], Catch::Contains("0x7777000") && Catch::Contains("stopped after 2"));
}

TEST_CASE("NULL links and the entry limit stop walks too") {
  test::BufferSpace space;
  build_list(space);
  {
    ListWalk walk = list_entries(symbol_object(profile(), space, "items"), "item", "link", {.limit = 2});
    CHECK(walk_ids(walk) == std::vector<int>{100, 101});
    REQUIRE(walk.warnings().size() == 1);
    CHECK_THAT(walk.warnings()[0], Catch::Contains("limit"));
  }
  put<uint64_t>(space, link_of(0), 0);
  ListWalk walk = list_entries(symbol_object(profile(), space, "items"), "item", "link");
  CHECK(walk_ids(walk) == std::vector<int>{100});
  REQUIRE(walk.warnings().size() == 1);
  CHECK_THAT(walk.warnings()[0], Catch::Contains("NULL"));

  // An unreadable head yields nothing, with a warning, and does not throw.
  ListWalk nowhere = list_entries(Object(profile(), space, "list_head", 0x880000), "item", "link");
  CHECK(walk_ids(nowhere).empty());
  CHECK(nowhere.warnings().size() == 1);

  // Misuse is a ProfileError at once.
  CHECK_THROWS_AS(list_entries(symbol_object(profile(), space, "items"), "item", "nope"), ProfileError);
  CHECK_THROWS_AS(list_entries(Object(profile(), space, "item", 0x1000)["next_item"], "item", "link"), ProfileError);
}

TEST_CASE("hlist walks end at NULL and detect cycles") {
  test::BufferSpace space;
  space.map(0x1000, 0x1000);
  for (int i = 0; i < 3; ++i) {
    space.map(item_address(i), 0x100);
    put<int32_t>(space, item_address(i), 200 + i);
  }
  auto node_of = [](int i) { return item_address(i) + 64; };
  put<uint64_t>(space, 0x1010, node_of(0));
  put<uint64_t>(space, node_of(0), node_of(1));
  put<uint64_t>(space, node_of(1), node_of(2));
  put<uint64_t>(space, node_of(2), 0);
  {
    ListWalk walk = hlist_entries(symbol_object(profile(), space, "hash"), "item", "node");
    CHECK(walk_ids(walk) == std::vector<int>{200, 201, 202});
    CHECK(walk.complete());
  }
  put<uint64_t>(space, node_of(2), node_of(0));
  ListWalk walk = hlist_entries(symbol_object(profile(), space, "hash"), "item", "node");
  CHECK(walk_ids(walk) == std::vector<int>{200, 201, 202});
  CHECK_FALSE(walk.complete());
}

// End to end on the real image: the kernel's page tables and KASLR shift
// come from truth.json (finding them is kernel discovery's job, tested
// there); everything else comes from the profile and the memory.
TEST_CASE("fixture image: task and module lists read through the object API match the truth") {
  const auto& truth = test::truth();
  auto profile = parse_isf_file(test::fixture_file("isf.json.xz"));
  auto image = open_image(test::fixture("image.raw"));
  auto u64 = [](const json& v) { return parse_u64(v.get<std::string>(), "truth"); };
  X86_64Paging kernel(*image, u64(truth["layout"]["swapper_pg_dir_phys"]), truth["layout"]["paging_levels"].get<int>());
  const uint64_t slide = u64(truth["kaslr_offset"]);

  std::map<int, json> expected;
  for (const json& p : truth["processes"])
    if (p["in_task_list"].get<bool>()) expected[p["pid"].get<int>()] = p;
  REQUIRE(expected.size() > 10);

  Object init_task = symbol_object(*profile, kernel, "init_task", slide);
  CHECK(init_task["pid"].value<int>() == 0);
  FieldRef pid = profile->field("task_struct", "pid");
  FieldRef comm = profile->field("task_struct", "comm");
  std::map<int, std::string> walked;
  ListWalk walk = list_entries(init_task["tasks"], "task_struct", "tasks");
  for (Object task : walk) {
    int id = task[pid].value<int>();
    walked[id] = task[comm].as_string();
    CHECK(task["pid"].value<int>() == id);
    auto it = expected.find(id);
    if (it == expected.end()) continue;
    INFO("pid " << id);
    CHECK(hex(task.address()) == hex(u64(it->second["task_struct"])));
    if (!it->second["mm"].is_null() && !it->second["kernel_thread"].get<bool>()) {
      CHECK(task["mm"].pointer() == u64(it->second["mm"]));
      CHECK(task["mm->arg_start"].as_u64() != 0);
      CHECK(task["mm->arg_start"].as_u64() < task["mm->arg_end"].as_u64());
    }
  }
  CHECK(walk.complete());
  REQUIRE(walked.size() == expected.size());
  for (const auto& [id, p] : expected) {
    INFO("pid " << id);
    REQUIRE(walked.count(id));
    // /proc adds a workqueue description to kworker names; task->comm has the start.
    CHECK_THAT(p["comm"].get<std::string>(), Catch::StartsWith(walked[id]));
  }

  // The hidden task is off the list but still a readable task_struct whose
  // own list_head was re-initialised to point at itself.
  const json& hidden = truth["hidden"]["process"];
  Object ghost(*profile, kernel, "task_struct", u64(hidden["task_struct"]));
  CHECK(ghost["pid"].value<int>() == hidden["pid"].get<int>());
  CHECK(ghost["comm"].as_string() == hidden["comm"].get<std::string>());
  CHECK(walked.count(hidden["pid"].get<int>()) == 0);
  ListWalk ghost_list = list_entries(ghost["tasks"], "task_struct", "tasks");
  size_t ghost_entries = 0;
  for (Object entry : ghost_list) ghost_entries += entry.address() != 0;
  CHECK(ghost_entries == 0);
  CHECK(ghost_list.complete());

  // Modules: names and an enum read from memory.
  std::vector<std::string> expected_modules, modules;
  for (const json& m : truth["modules"])
    if (!m["hidden"].get<bool>()) expected_modules.push_back(m["name"].get<std::string>());
  ListWalk module_walk = list_entries(symbol_object(*profile, kernel, "modules", slide), "module", "list");
  for (Object m : module_walk) {
    modules.push_back(m["name"].as_string());
    CHECK(m["state"].enum_name() == "MODULE_STATE_LIVE");
  }
  CHECK(module_walk.complete());
  std::sort(modules.begin(), modules.end());
  std::sort(expected_modules.begin(), expected_modules.end());
  CHECK(modules == expected_modules);
}
