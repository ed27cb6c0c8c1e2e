#include "core/linux/maple_tree.h"

#include <cstring>
#include <unordered_set>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// Node pointer tagging (lib/maple_tree.c): the node's address is 256-byte
// aligned (MAPLE_NODE_MASK), the type sits in bits 3-6
// (MAPLE_NODE_TYPE_SHIFT, MAPLE_NODE_TYPE_MASK), and ma_root marks a node
// with MAPLE_ROOT_NODE.
constexpr uint64_t kNodeMask = 0xff;
constexpr unsigned kTypeShift = 3;
constexpr uint64_t kTypeMask = 0x0f;

// xa_is_internal() (include/linux/xarray.h): values with the low bits 10
// are the tree's own markers, never stored entries; below 4096 they are
// reserved values (XA_ZERO_ENTRY, retry entries), above it node pointers.
bool is_internal(uint64_t value) { return (value & 3) == 2; }
bool is_node_pointer(uint64_t value) { return is_internal(value) && value > 4096; }

uint64_t load(const std::vector<uint8_t>& bytes, uint64_t offset, uint64_t size = 8) {
  uint64_t value = 0;
  std::memcpy(&value, bytes.data() + offset, size);  // little-endian host, as the kernel
  return value;
}

// The array member `path` of `record`: its offset and element count, its
// elements pointer-sized.
void array_field(const Profile& profile, const TypeInfo& record, std::string_view path, uint64_t& offset,
                 uint64_t& count) {
  FieldRef field = profile.field(record, path);
  const TypeInfo& array = profile.type(field.type);
  if (!array.is_array() || array.count == 0)
    profile.fail(std::string(profile.name(record)) + "." + std::string(path) + " is not a sized array");
  if (profile.type(array.target).size != 8)
    profile.fail(std::string(profile.name(record)) + "." + std::string(path) + " does not hold 8-byte values");
  offset = field.offset;
  count = array.count;
}

}  // namespace

struct MapleTreeReader::Walk {
  const std::string& what;
  Warnings& warnings;
  MapleWalkOptions options;
  std::vector<MapleEntry> entries;
  std::unordered_set<uint64_t> visited;
  std::vector<uint8_t> buffer;
  bool full = false;

  void warn(const std::string& message) { warnings.add("maple tree", what + ": " + message); }
  void add(uint64_t first, uint64_t last, uint64_t value) {
    if (full) return;
    if (entries.size() >= options.limit) {
      full = true;
      warn("more than " + std::to_string(options.limit) + " entries; the rest of the tree is not read");
      return;
    }
    entries.push_back({first, last, value});
  }
};

bool MapleTreeReader::available(const Profile& profile) {
  const TypeInfo* tree = profile.find_type("maple_tree");
  return tree && profile.find_member(*tree, "ma_root");
}

MapleTreeReader::MapleTreeReader(const KernelView& kernel) : kernel_(kernel) {
  const Profile& profile = kernel.profile();
  root_offset_ = profile.field("maple_tree", "ma_root").offset;

  const TypeInfo& range = profile.require_type("maple_range_64");
  array_field(profile, range, "pivot", range_.pivot_offset, range_.pivot_count);
  array_field(profile, range, "slot", range_.slot_offset, range_.slot_count);
  parent_offset_ = profile.field(range, "parent").offset;
  if (profile.find_member(range, "meta")) {
    range_.has_meta = true;
    range_.meta_end_offset = profile.field(range, "meta.end").offset;
  }
  const TypeInfo& arange = profile.require_type("maple_arange_64");
  array_field(profile, arange, "pivot", arange_.pivot_offset, arange_.pivot_count);
  array_field(profile, arange, "slot", arange_.slot_offset, arange_.slot_count);
  arange_.has_meta = true;
  arange_.meta_end_offset = profile.field(arange, "meta.end").offset;
  node_size_ = std::max(range.size, arange.size);

  if (const TypeInfo* node = profile.find_type("maple_node"); node && profile.find_member(*node, "slot")) {
    array_field(profile, *node, "slot", dense_.slot_offset, dense_.slot_count);
    has_dense_ = true;
    node_size_ = std::max(node_size_, node->size);
  }
  for (const NodeLayout* layout : {&range_, &arange_, &dense_}) {
    if (layout->pivot_offset + layout->pivot_count * 8 > node_size_ ||
        layout->slot_offset + layout->slot_count * 8 > node_size_)
      profile.fail("maple node arrays lie outside the node");
  }
  if (node_size_ == 0 || node_size_ > kNodeMask + 1) profile.fail("maple nodes are not at most 256 bytes");
  if (range_.pivot_count + 1 < range_.slot_count || arange_.pivot_count + 1 < arange_.slot_count)
    profile.fail("maple nodes have fewer pivots than their slots need");

  auto constant = [&](const char* name, uint64_t& out) {
    if (auto value = profile.enum_constant("maple_type", name); value && *value >= 0) out = uint64_t(*value);
  };
  constant("maple_dense", type_dense_);
  constant("maple_leaf_64", type_leaf_);
  constant("maple_range_64", type_range_);
  constant("maple_arange_64", type_arange_);
}

std::vector<MapleEntry> MapleTreeReader::entries(uint64_t tree, const std::string& what, Warnings& warnings,
                                                 MapleWalkOptions options) const {
  Walk walk{what, warnings, options, {}, {}, std::vector<uint8_t>(node_size_), false};
  uint64_t root = 0;
  IoResult r = kernel_.kernel().read(tree + root_offset_, &root, sizeof root);
  if (!r.ok()) {
    walk.warn("cannot read the tree's root at " + hex_address(tree + root_offset_) + ": " + r.fault->message());
    return {};
  }
  if (root == 0) return {};
  if (!is_node_pointer(root)) {
    // A tree of one entry keeps it in the root itself, at index 0.
    if (!is_internal(root)) walk.add(0, 0, root);
    return std::move(walk.entries);
  }
  walk_node(walk, root, 0, UINT64_MAX, 1);
  return std::move(walk.entries);
}

void MapleTreeReader::walk_node(Walk& walk, uint64_t enode, uint64_t min, uint64_t max, unsigned depth) const {
  if (walk.full) return;
  const uint64_t node = enode & ~kNodeMask;
  const uint64_t type = (enode >> kTypeShift) & kTypeMask;
  const NodeLayout* layout = nullptr;
  bool leaf = false, arange = false, dense = false;
  if (type == type_leaf_) {
    layout = &range_, leaf = true;
  } else if (type == type_range_) {
    layout = &range_;
  } else if (type == type_arange_) {
    layout = &arange_, arange = true;
  } else if (type == type_dense_ && has_dense_) {
    layout = &dense_, leaf = true, dense = true;
  } else {
    walk.warn("node pointer " + hex_address(enode) + " has no known node type (" + std::to_string(type) +
              "); its subtree is skipped");
    return;
  }
  if (depth > kMaxHeight) {
    walk.warn("node " + hex_address(node) + " lies deeper than the " + std::to_string(kMaxHeight) +
              " levels a maple tree can have; its subtree is skipped");
    return;
  }
  if (!walk.visited.insert(node).second) {
    walk.warn("node " + hex_address(node) + " is reached twice (a cycle); skipped the second time");
    return;
  }
  std::vector<uint8_t>& bytes = walk.buffer;
  IoResult r = kernel_.kernel().read(node, bytes.data(), node_size_);
  if (!r.ok()) {
    walk.warn("cannot read node " + hex_address(node) + ": " + r.fault->message() + "; its subtree is skipped");
    return;
  }
  // A node being freed points its parent at itself (mte_set_node_dead).
  if ((load(bytes, parent_offset_) & ~kNodeMask) == node) {
    walk.warn("node " + hex_address(node) + " is marked dead (its parent is itself); skipped");
    return;
  }
  // Copied out: the recursion below reuses the buffer.
  std::vector<uint64_t> slots(layout->slot_count), pivots(layout->pivot_count);
  for (uint64_t i = 0; i < layout->slot_count; ++i) slots[i] = load(bytes, layout->slot_offset + 8 * i);
  for (uint64_t i = 0; i < layout->pivot_count; ++i) pivots[i] = load(bytes, layout->pivot_offset + 8 * i);

  if (dense) {
    // One index per slot, from the node's minimum.
    for (uint64_t i = 0; i < slots.size() && min + i <= max && min + i >= min; ++i)
      if (slots[i] && !is_internal(slots[i])) walk.add(min + i, min + i, slots[i]);
    return;
  }

  // The last used slot (ma_data_end): the metadata's `end` when the last
  // pivot is unused (always for arange nodes), else the last pivot's slot
  // when it reaches the node's maximum, else the extra slot past the pivots.
  const uint64_t last_pivot = pivots.back();
  const uint64_t meta_end = layout->has_meta ? load(bytes, layout->meta_end_offset, 1) : layout->slot_count - 1;
  uint64_t end = 0;
  if (arange || last_pivot == 0)
    end = meta_end;
  else if (last_pivot == max)
    end = pivots.size() - 1;
  else
    end = pivots.size();
  if (end >= layout->slot_count) {
    walk.warn("node " + hex_address(node) + " claims " + std::to_string(end + 1) + " used slots of " +
              std::to_string(layout->slot_count) + "; reading them all");
    end = layout->slot_count - 1;
  }

  uint64_t first = min;
  for (uint64_t i = 0; i <= end; ++i) {
    // A slot's last index is its pivot; the slot past the pivots, and a
    // later slot whose pivot is 0 (not written), end at the node's maximum.
    uint64_t last = i < pivots.size() ? pivots[i] : max;
    if (last == 0 && i > 0) last = max;
    if (last < first || last > max) {
      walk.warn("node " + hex_address(node) + ": slot " + std::to_string(i) + " ends at " + hex(last) +
                ", outside [" + hex(first) + ", " + hex(max) + "]; the rest of the node is skipped");
      return;
    }
    uint64_t slot = slots[i];
    if (leaf) {
      if (slot && !is_internal(slot)) walk.add(first, last, slot);
    } else if (slot == 0) {
      walk.warn("node " + hex_address(node) + ": slot " + std::to_string(i) + " (indices " + hex(first) + "-" +
                hex(last) + ") has no child");
    } else {
      walk_node(walk, slot, first, last, depth + 1);
    }
    if (walk.full || last >= max) return;
    first = last + 1;
  }
}

}  // namespace memscope::linux_kernel
