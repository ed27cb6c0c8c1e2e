// core/linux/maple_tree.h on maple trees built by the synthetic kernel
// (support/synthetic_memory.cpp: 8 leaf slots, 6 internal ones, enum
// maple_type values unlike the kernel's), whole and damaged: a cycle, a
// wild node, a node of no known type, a dead node, pivots out of order, a
// tree deeper than the kernel allows, more entries than the limit.
#include <catch2/catch.hpp>
#include <memory>

#include "core/linux/maple_tree.h"
#include "core/session/session.h"
#include "core/util/hex.h"
#include "support/synthetic_linux.h"
#include "support/temp_file.h"

using namespace memscope;
using linux_kernel::MapleEntry;
using linux_kernel::MapleTreeReader;
using test::SyntheticLinux;
using test::SyntheticOptions;
using test::VmaIndexKind;

namespace {

SyntheticOptions maple_options() {
  SyntheticOptions options;
  options.vmas = VmaIndexKind::kMapleTree;
  return options;
}

// The synthetic image written as LiME and opened, after the test built
// (and damaged) its trees.
class Opened {
 public:
  explicit Opened(SyntheticLinux& kernel) : dir_("maple") {
    kernel.write_profile(dir_.file("profile.json"));
    kernel.write_lime(dir_.file("image.lime"));
    SessionOptions options;
    options.image = dir_.file("image.lime");
    options.profile = dir_.file("profile.json");
    options.use_profile_cache = false;
    session_ = std::make_unique<Session>(options);
    view_ = std::make_unique<linux_kernel::KernelView>(linux_kernel::kernel_view(*session_));
  }
  std::vector<MapleEntry> entries(uint64_t tree, Warnings& warnings, linux_kernel::MapleWalkOptions options = {}) {
    MapleTreeReader reader(*view_);
    return reader.entries(tree, "test tree", warnings, options);
  }

 private:
  test::TempDir dir_;
  std::unique_ptr<Session> session_;
  std::unique_ptr<linux_kernel::KernelView> view_;
};

// n entries of 0x3000 indices every 0x10000, valued by a recognisable
// pointer-like number.
std::vector<SyntheticLinux::MapleRange> ranges(size_t n, uint64_t base = 0x400000) {
  std::vector<SyntheticLinux::MapleRange> out;
  for (size_t i = 0; i < n; ++i)
    out.push_back({base + i * 0x10000, base + i * 0x10000 + 0x2fff, 0xffff888000100000ull + i * 0x100});
  return out;
}

std::string joined(const Warnings& warnings) {
  std::string out;
  for (const std::string& line : warnings.lines()) out += line + "\n";
  return out;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("maple tree: every entry of a three-level tree in index order") {
  SyntheticLinux kernel(maple_options());
  auto expected = ranges(40);
  uint64_t tree = kernel.build_maple_tree(expected);
  // 40 entries and their gaps make 81 ranges: 11 leaves, 2 internal nodes, a root.
  REQUIRE(kernel.maple_nodes(tree).size() == 14);
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  INFO(joined(warnings));
  CHECK(warnings.empty());
  REQUIRE(got.size() == expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    CHECK(got[i].first == expected[i].first);
    CHECK(got[i].last == expected[i].last);
    CHECK(got[i].value == expected[i].value);
  }
}

TEST_CASE("maple tree: a root that is one leaf / a single entry / empty") {
  SyntheticLinux kernel(maple_options());
  uint64_t leaf = kernel.build_maple_tree(ranges(3));  // 7 ranges: one leaf
  REQUIRE(kernel.maple_nodes(leaf).size() == 1);
  uint64_t single = kernel.build_maple_tree(ranges(1));
  uint64_t empty = kernel.build_maple_tree(ranges(1));
  // A tree of one value at index 0 keeps it in ma_root itself; an empty one holds NULL.
  const uint64_t value = 0xffff888000123400ull;
  uint64_t root_field = kernel.offset_of("maple_tree", "ma_root");
  kernel.poke_kernel_u64(single + root_field, value);
  kernel.poke_kernel_u64(empty + root_field, 0);
  Opened image(kernel);
  Warnings warnings;
  CHECK(image.entries(leaf, warnings).size() == 3);
  auto one = image.entries(single, warnings);
  REQUIRE(one.size() == 1);
  CHECK(one[0].first == 0);
  CHECK(one[0].last == 0);
  CHECK(one[0].value == value);
  CHECK(image.entries(empty, warnings).empty());
  CHECK(warnings.empty());
}

TEST_CASE("maple tree: a cycle back to the root is reported and the rest is kept") {
  SyntheticLinux kernel(maple_options());
  auto expected = ranges(40);
  uint64_t tree = kernel.build_maple_tree(expected);
  auto nodes = kernel.maple_nodes(tree);
  const uint64_t root = nodes[0], middle = nodes[1];
  // The first internal node's second child becomes the root itself.
  kernel.poke_kernel_u64(kernel.maple_slot_address(middle, 1), kernel.maple_enode(root));
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  std::string text = joined(warnings);
  INFO(text);
  CHECK(contains(text, "node " + hex_address(root) + " is reached twice"));
  // Only the lost leaf's entries are missing: 8 ranges, 4 of them entries.
  CHECK(got.size() == expected.size() - 4);
  for (size_t i = 1; i < got.size(); ++i) CHECK(got[i].first > got[i - 1].last);
}

TEST_CASE("maple tree: a child reached twice (a shared subtree) is walked once") {
  SyntheticLinux kernel(maple_options());
  uint64_t tree = kernel.build_maple_tree(ranges(40));
  auto nodes = kernel.maple_nodes(tree);
  const uint64_t middle = nodes[1];
  // Slot 1 of the first internal node points at the leaf of its slot 0.
  const uint64_t leaf0 = nodes[3];  // root, 2 internal, then the leaves in order
  kernel.poke_kernel_u64(kernel.maple_slot_address(middle, 1), kernel.maple_enode(leaf0));
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  INFO(joined(warnings));
  CHECK(contains(joined(warnings), "node " + hex_address(leaf0) + " is reached twice"));
  CHECK(got.size() == 36);
}

TEST_CASE("maple tree: a wild node pointer costs its subtree only") {
  SyntheticLinux kernel(maple_options());
  auto expected = ranges(40);
  uint64_t tree = kernel.build_maple_tree(expected);
  auto nodes = kernel.maple_nodes(tree);
  const uint64_t middle = nodes[1];
  const uint64_t wild = SyntheticLinux::kUnmappedKernelAddress;
  // Keeps the encoding of a leaf (the slot it replaces held one).
  uint64_t leaf = kernel.maple_enode(nodes[4]);
  kernel.poke_kernel_u64(kernel.maple_slot_address(middle, 1), wild | (leaf & 0xff));
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  std::string text = joined(warnings);
  INFO(text);
  CHECK(contains(text, "cannot read node " + hex_address(wild)));
  CHECK(got.size() == expected.size() - 4);
}

TEST_CASE("maple tree: a node pointer of no known type / a dead node") {
  SyntheticLinux kernel(maple_options());
  auto expected = ranges(40);
  uint64_t tree = kernel.build_maple_tree(expected);
  auto nodes = kernel.maple_nodes(tree);
  const uint64_t middle = nodes[1];
  // Type 9 (bits 3-6) is no enum maple_type value of this profile.
  kernel.poke_kernel_u64(kernel.maple_slot_address(middle, 1), nodes[4] | (9 << 3) | 4);
  // A node being freed points its parent at itself.
  kernel.poke_kernel_u64(nodes[5], nodes[5]);
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  std::string text = joined(warnings);
  INFO(text);
  CHECK(contains(text, "has no known node type (9)"));
  CHECK(contains(text, "node " + hex_address(nodes[5]) + " is marked dead"));
  CHECK(got.size() == expected.size() - 8);
}

TEST_CASE("maple tree: a pivot out of order ends its node and not the walk") {
  SyntheticLinux kernel(maple_options());
  auto expected = ranges(40);
  uint64_t tree = kernel.build_maple_tree(expected);
  auto nodes = kernel.maple_nodes(tree);
  const uint64_t leaf = nodes[3];  // the first leaf: [0, gap], entry, gap, ... 8 ranges
  // Its third pivot goes below its second.
  uint64_t pivots = leaf + kernel.offset_of("maple_range_64", "pivot");
  kernel.poke_kernel_u64(pivots + 2 * 8, 0x10);
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings);
  std::string text = joined(warnings);
  INFO(text);
  CHECK(contains(text, "node " + hex_address(leaf) + ": slot 2 ends at 0x10"));
  // Slot 1 (the first entry) was read; slots 2-7 (2 entries) were not.
  CHECK(got.size() == expected.size() - 3);
  CHECK(got[0].value == expected[0].value);
}

TEST_CASE("maple tree: more entries than the limit") {
  SyntheticLinux kernel(maple_options());
  uint64_t tree = kernel.build_maple_tree(ranges(40));
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(tree, warnings, {.limit = 10});
  CHECK(got.size() == 10);
  CHECK(contains(joined(warnings), "more than 10 entries"));
}

TEST_CASE("maple tree: a chain deeper than the kernel's maximum height stops there") {
  SyntheticLinux kernel(maple_options());
  // 40 trees of 3 levels whose roots each lead to the next one's root
  // through slot 0: a path of more than 31 nodes.
  std::vector<uint64_t> roots;
  uint64_t first = 0;
  for (int i = 0; i < 40; ++i) {
    uint64_t tree = kernel.build_maple_tree(ranges(40));
    if (!first) first = tree;
    roots.push_back(kernel.maple_nodes(tree)[0]);
  }
  for (size_t i = 0; i + 1 < roots.size(); ++i)
    kernel.poke_kernel_u64(kernel.maple_slot_address(roots[i], 0), kernel.maple_enode(roots[i + 1]));
  Opened image(kernel);
  Warnings warnings;
  auto got = image.entries(first, warnings);
  std::string text = joined(warnings);
  INFO(text);
  CHECK(contains(text, "deeper than the 31 levels"));
  CHECK(!got.empty());
}
