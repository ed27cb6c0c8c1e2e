#include "core/linux/xarray.h"

#include <cstring>
#include <unordered_set>

#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

// include/linux/xarray.h: internal entries end in 0b10; nodes are the
// internal entries above 4096 (siblings, retry and zero entries are small).
constexpr uint64_t kXaInternalMask = 3, kXaInternalTag = 2, kXaNodeMinimum = 4096;
// include/linux/radix-tree.h (4.7-4.19): RADIX_TREE_INTERNAL_NODE; before
// 4.7 RADIX_TREE_INDIRECT_PTR, the same bit.
constexpr uint64_t kRadixInternalTag = 1;
// A node larger than this is not a radix tree node (xa_node is 576 bytes).
constexpr uint64_t kMaxNodeBytes = 16384;

uint64_t load(const uint8_t* bytes, uint64_t size) {
  uint64_t value = 0;
  std::memcpy(&value, bytes, size > 8 ? 8 : size);
  if (size < 8) value &= (uint64_t{1} << (8 * size)) - 1;
  return value;
}

std::optional<uint64_t> member_offset(const Profile& profile, const TypeInfo& type, std::string_view name,
                                      uint64_t* size = nullptr) {
  const MemberInfo* m = profile.find_member(type, name);
  if (!m) return std::nullopt;
  if (size) *size = profile.type(m->type).size;
  return m->offset;
}

}  // namespace

const char* xarray_encoding_name(XArrayEncoding encoding) {
  switch (encoding) {
    case XArrayEncoding::kXArray:
      return "xarray";
    case XArrayEncoding::kRadixTree:
      return "radix tree";
    case XArrayEncoding::kRadixTreeHeight:
      return "radix tree (height)";
  }
  return "?";
}

struct XArrayWalker::Walk {
  AddressSpace& space;
  const std::string& what;
  Warnings& warnings;
  size_t limit;
  std::vector<XArrayEntry> out;
  std::unordered_set<uint64_t> nodes;
  bool stopped = false;
};

XArrayWalker::XArrayWalker(const Profile& profile) : profile_(profile) {
  const TypeInfo* node = profile.find_type("xa_node");
  if (node) {
    encoding_ = XArrayEncoding::kXArray;
  } else if ((node = profile.find_type("radix_tree_node"))) {
    encoding_ = profile.find_member(*node, "shift") ? XArrayEncoding::kRadixTree : XArrayEncoding::kRadixTreeHeight;
  } else {
    profile.fail("neither struct xa_node (4.20+) nor struct radix_tree_node: cannot walk radix trees");
  }
  const TypeInfo* root = profile.find_type(encoding_ == XArrayEncoding::kXArray ? "xarray" : "radix_tree_root");
  if (!root) root = profile.find_type("radix_tree_root");  // 4.20+ names it so in some profiles
  if (!root) root = profile.find_type("xarray");
  if (!root) profile.fail("no struct xarray or struct radix_tree_root");
  root_type_ = root->id;
  auto head = member_offset(profile, *root, "xa_head");
  if (!head) head = member_offset(profile, *root, "rnode");
  if (!head) profile.fail("struct " + std::string(profile.name(*root)) + " has neither xa_head nor rnode");
  root_head_offset_ = *head;
  root_height_offset_ = member_offset(profile, *root, "height", &root_height_size_);

  node_size_ = node->size;
  if (node_size_ == 0 || node_size_ > kMaxNodeBytes)
    profile.fail("struct " + std::string(profile.name(*node)) + " has an unusable size " + std::to_string(node_size_));
  const MemberInfo& slots = profile.require_member(*node, "slots");
  const TypeInfo& slots_type = profile.type(slots.type);
  if (!slots_type.is_array() || slots_type.count == 0 || (slots_type.count & (slots_type.count - 1)) ||
      slots_type.count > 256 || profile.type(slots_type.target).size != profile.pointer_size() ||
      slots.offset + slots_type.size > node_size_)
    profile.fail(std::string(profile.name(*node)) + ".slots is not an array of a power of two pointers");
  slots_offset_ = slots.offset;
  slot_count_ = slots_type.count;
  chunk_shift_ = static_cast<unsigned>(__builtin_ctzll(slot_count_));
  shift_offset_ = member_offset(profile, *node, "shift");
  offset_offset_ = member_offset(profile, *node, "offset");
  parent_offset_ = member_offset(profile, *node, "parent");
  path_offset_ = member_offset(profile, *node, "path", &path_size_);
  if (encoding_ == XArrayEncoding::kRadixTreeHeight && !root_height_offset_ && !path_offset_)
    profile.fail("radix_tree_node has neither shift nor path, and radix_tree_root no height: unknown radix tree");
}

std::vector<XArrayEntry> XArrayWalker::entries(const Object& root, const std::string& what, Warnings& warnings,
                                               XArrayOptions options) const {
  Walk walk{root.space(), what, warnings, options.limit, {}, {}, false};
  const size_t pointer_size = profile_.pointer_size();
  uint8_t bytes[8] = {};
  IoResult r = walk.space.read(root.address() + root_head_offset_, bytes, pointer_size);
  if (!r.ok()) {
    warnings.add(what + ": cannot read the root at " + hex(root.address()) + ": " + r.fault->message());
    return {};
  }
  const uint64_t head = load(bytes, pointer_size);
  if (head == 0) return {};
  switch (encoding_) {
    case XArrayEncoding::kXArray:
      if ((head & kXaInternalMask) != kXaInternalTag) {
        walk.out.push_back({0, head});  // a single entry at index 0, held in the root
      } else if (head > kXaNodeMinimum) {
        visit_node(walk, head - kXaInternalTag, 0, std::nullopt, 0, 0, 0);
      }
      break;
    case XArrayEncoding::kRadixTree:
      if ((head & kXaInternalMask) != kRadixInternalTag) {
        walk.out.push_back({0, head});
      } else if (head != kRadixInternalTag) {  // 1 alone is RADIX_TREE_RETRY
        visit_node(walk, head & ~kRadixInternalTag, 0, std::nullopt, 0, 0, 0);
      }
      break;
    case XArrayEncoding::kRadixTreeHeight: {
      if (!(head & kRadixInternalTag)) {
        walk.out.push_back({0, head});
        break;
      }
      unsigned height = 0;
      if (root_height_offset_) {
        IoResult h = walk.space.read(root.address() + *root_height_offset_, bytes, root_height_size_);
        if (!h.ok()) {
          warnings.add(what + ": cannot read the height of the root at " + hex(root.address()) + ": " +
                       h.fault->message());
          return {};
        }
        height = static_cast<unsigned>(load(bytes, root_height_size_));
      }
      visit_node(walk, head & ~kRadixInternalTag, 0, std::nullopt, 0, 0, height);
      break;
    }
  }
  return std::move(walk.out);
}

// `expected_shift` is empty for the root node; `height` is the height-kind's
// level (0: read it from the node's path).
void XArrayWalker::visit_node(Walk& walk, uint64_t node, uint64_t base, std::optional<unsigned> expected_shift,
                              uint64_t parent, uint64_t slot_in_parent, unsigned height) const {
  if (walk.stopped) return;
  const std::string where = walk.what + ": node " + hex(node);
  if (!walk.nodes.insert(node).second) {
    walk.warnings.add(walk.what + ": node met twice", where + " is reached twice; walked once");
    return;
  }
  std::vector<uint8_t> bytes(node_size_);
  IoResult r = walk.space.read(node, bytes.data(), bytes.size());
  if (!r.ok()) {
    walk.warnings.add(walk.what + ": unreadable node", "cannot read " + where + ": " + r.fault->message());
    return;
  }
  const size_t pointer_size = profile_.pointer_size();
  const unsigned max_shift = 64 - chunk_shift_;  // the top level's largest useful shift
  unsigned shift = 0;
  if (encoding_ == XArrayEncoding::kRadixTreeHeight) {
    if (height == 0 && path_offset_) {
      // RADIX_TREE_HEIGHT_MASK: the height is below bit MAX_PATH + 1.
      const unsigned max_path = (64 + chunk_shift_ - 1) / chunk_shift_;
      height = static_cast<unsigned>(load(bytes.data() + *path_offset_, path_size_) & ((1u << (max_path + 1)) - 1));
    }
    if (height == 0 || (height - 1) * chunk_shift_ > max_shift) {
      walk.warnings.add(walk.what + ": bad node", where + ": height " + std::to_string(height) + " is impossible");
      return;
    }
    shift = (height - 1) * chunk_shift_;
  } else {
    shift = bytes[*shift_offset_];
    if (shift % chunk_shift_ != 0 || shift > max_shift) {
      walk.warnings.add(walk.what + ": bad node", where + ": shift " + std::to_string(shift) + " is impossible");
      return;
    }
  }
  if (expected_shift && shift != *expected_shift) {
    walk.warnings.add(walk.what + ": bad node", where + ": shift " + std::to_string(shift) + " where its parent " +
                                                    hex(parent) + " implies " + std::to_string(*expected_shift));
    return;
  }
  if (expected_shift && encoding_ != XArrayEncoding::kRadixTreeHeight) {
    // The back links the kernel keeps: a node's slot in its parent, and the parent.
    if (offset_offset_ && bytes[*offset_offset_] != slot_in_parent)
      walk.warnings.add(walk.what + ": inconsistent node",
                        where + ": offset " + std::to_string(bytes[*offset_offset_]) + " but it is slot " +
                            std::to_string(slot_in_parent) + " of " + hex(parent));
    if (parent_offset_) {
      uint64_t recorded = load(bytes.data() + *parent_offset_, pointer_size);
      if (recorded != parent)
        walk.warnings.add(walk.what + ": inconsistent node",
                          where + ": parent is " + hex(recorded) + ", not " + hex(parent) + " which points at it");
    }
  }

  const uint64_t slots_begin = node + slots_offset_;
  const uint64_t slots_end = slots_begin + slot_count_ * pointer_size;
  for (uint64_t slot = 0; slot < slot_count_; ++slot) {
    const uint64_t entry = load(bytes.data() + slots_offset_ + slot * pointer_size, pointer_size);
    if (entry == 0) continue;
    const uint64_t index = base + (shift < 64 ? slot << shift : 0);
    bool is_node = false;
    uint64_t child = 0;
    switch (encoding_) {
      case XArrayEncoding::kXArray:
        if ((entry & kXaInternalMask) == kXaInternalTag) {
          if (entry <= kXaNodeMinimum) continue;  // sibling, retry or zero entry
          is_node = true;
          child = entry - kXaInternalTag;
        }
        break;
      case XArrayEncoding::kRadixTree:
        if ((entry & kXaInternalMask) == kRadixInternalTag) {
          child = entry & ~kRadixInternalTag;
          if (entry == kRadixInternalTag || (child >= slots_begin && child < slots_end)) continue;  // retry, sibling
          is_node = true;
        }
        break;
      case XArrayEncoding::kRadixTreeHeight:
        if (shift > 0) {
          is_node = true;
          child = entry;
        }
        break;
    }
    if (is_node) {
      if (shift == 0) {
        walk.warnings.add(walk.what + ": bad node", where + ": slot " + std::to_string(slot) +
                                                        " of a bottom node points at another node " + hex(child));
        continue;
      }
      visit_node(walk, child, index, shift - chunk_shift_, node, slot,
                 encoding_ == XArrayEncoding::kRadixTreeHeight ? shift / chunk_shift_ : 0);
      if (walk.stopped) return;
      continue;
    }
    if (walk.out.size() >= walk.limit) {
      walk.warnings.add(walk.what + ": limit of " + std::to_string(walk.limit) + " entries reached at " + where);
      walk.stopped = true;
      return;
    }
    walk.out.push_back({index, entry});
  }
}

}  // namespace memscope::linux_kernel
