// struct maple_tree (lib/maple_tree.c, 6.1+): the B-tree of ranges that
// holds a process's VMAs (`mm->mm_mt`) since 6.1, replacing the rbtree and
// the vm_next list.
//
// How the kernel encodes it (include/linux/maple_tree.h, lib/maple_tree.c):
// `ma_root` is NULL (empty), a plain entry (the tree holds one value, at
// index 0), or a node pointer tagged MAPLE_ROOT_NODE (0x2). A node pointer
// ("enode") is the node's address (nodes are 256-byte aligned, so the low 8
// bits are free) with the node's type in bits 3-6 (enum maple_type:
// maple_dense, maple_leaf_64, maple_range_64, maple_arange_64) and bit 2 set.
// A node of range type holds `pivot[]` (the last index of each slot but the
// last) and `slot[]`; slot i covers (pivot[i-1], pivot[i]], the first slot
// starts at the node's own minimum and the last ends at its maximum, both
// inherited from the parent. Leaves (dense, leaf_64) hold the entries;
// range_64 / arange_64 nodes hold child enodes. How many slots are used is
// the node's `meta.end` or is told by its pivots (ma_data_end).
//
// The slot and pivot counts and every offset come from the profile
// (maple_range_64 / maple_arange_64 / maple_node), the type numbers from
// enum maple_type when the profile has it. Only the pointer tagging, which
// is code rather than data, is fixed here.
//
// The image is untrusted: every node is read once (a node reached twice, a
// cycle, is reported and skipped), depth is bounded by the kernel's
// MAPLE_HEIGHT_MAX, pivots must lie inside their node's range and increase,
// the number of entries is capped, and a node that cannot be read (a wild
// pointer) costs its subtree only. Each problem is one warning naming the
// tree and the node's address.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// One entry: the value stored for the indices [first, last].
struct MapleEntry {
  uint64_t first = 0;
  uint64_t last = 0;
  uint64_t value = 0;
};

struct MapleWalkOptions {
  // Entries yielded at most (a forged tree stops here, with a warning).
  size_t limit = 4u << 20;
};

class MapleTreeReader {
 public:
  // The kernel's bound on a tree's height (MAPLE_HEIGHT_MAX).
  static constexpr unsigned kMaxHeight = 31;

  // True if the profile describes maple trees (struct maple_tree).
  static bool available(const Profile& profile);

  // Resolves the node layouts once; throws ProfileError naming what the
  // profile lacks (maple_tree.ma_root, maple_range_64.pivot, ...).
  explicit MapleTreeReader(const KernelView& kernel);

  // The non-NULL entries of the maple_tree at kernel address `tree`, in
  // index order. Reserved internal values (XA_ZERO_ENTRY and the like) are
  // not entries. `what` names the tree in warnings ("task 0x... (pid 98
  // bash): VMA tree"). Never throws for bad memory: what was read before a
  // problem is kept, and the walk goes on with the next subtree.
  std::vector<MapleEntry> entries(uint64_t tree, const std::string& what, Warnings& warnings,
                                  MapleWalkOptions options = {}) const;

 private:
  // Where one kind of node keeps its pivots, slots and data end.
  struct NodeLayout {
    uint64_t pivot_offset = 0, pivot_count = 0;
    uint64_t slot_offset = 0, slot_count = 0;
    bool has_meta = false;
    uint64_t meta_end_offset = 0;
  };
  struct Walk;

  void walk_node(Walk& walk, uint64_t enode, uint64_t min, uint64_t max, unsigned depth) const;

  KernelView kernel_;
  uint64_t root_offset_ = 0;
  uint64_t node_size_ = 0;
  uint64_t parent_offset_ = 0;
  NodeLayout range_, arange_, dense_;
  bool has_dense_ = false;
  // enum maple_type
  uint64_t type_dense_ = 0, type_leaf_ = 1, type_range_ = 2, type_arange_ = 3;
};

}  // namespace memscope::linux_kernel
