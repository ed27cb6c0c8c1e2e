// Walking the kernel's radix trees: `struct xarray` (4.20+) and the
// `struct radix_tree_root` it replaced, with one walker. They index pointers
// by an unsigned long (page-cache offsets, IDR ids: pid namespaces, BPF
// programs and maps).
//
// The profile says which encoding this kernel has:
//   struct xa_node (4.20+): internal entries are tagged 0b10; a node is an
//     internal entry above 4096 (the node's address + 2); smaller internal
//     entries are siblings of a multi-index entry, "retry" or "zero";
//   struct radix_tree_node with `shift` (4.7-4.19): internal entries are
//     tagged 0b01 (the node's address + 1); an internal entry pointing into
//     the node's own slots is a sibling; 0b10 marks exceptional entries;
//   struct radix_tree_node with `path` (before 4.7): the root's pointer is
//     tagged 0b01, the pointers inside the tree are plain, and the tree's
//     height is in the root node's `path` (or the root's `height`).
// The number of slots per node (64, or 16 with CONFIG_BASE_SMALL) is the
// length of `slots` in the profile, never assumed.
//
// Nothing here trusts the image: a node's shift must be its parent's minus
// one level (so the depth is bounded by the index width and a node cannot
// lead back to an ancestor), its `offset` and `parent` must match the slot
// and node that lead to it, a node met twice is walked once, and the number
// of entries is capped. Each problem is a warning naming the node's address;
// the rest of the tree is still walked.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/warnings.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

enum class XArrayEncoding {
  kXArray,           // struct xarray / xa_node (4.20+)
  kRadixTree,        // radix_tree_node.shift, tagged node pointers (4.7-4.19)
  kRadixTreeHeight,  // radix_tree_node.path / root.height, plain inner pointers (before 4.7)
};

const char* xarray_encoding_name(XArrayEncoding encoding);

struct XArrayEntry {
  uint64_t index = 0;
  uint64_t entry = 0;  // the slot's value: a pointer, or a value entry (bit 0 set) as stored
};

struct XArrayOptions {
  // Entries returned at most (PID_MAX_LIMIT: a forged tree stops here).
  size_t limit = 4u << 20;
};

class XArrayWalker {
 public:
  // Decides the encoding and resolves the node's fields once; throws
  // ProfileError naming what the profile lacks.
  explicit XArrayWalker(const Profile& profile);

  XArrayEncoding encoding() const { return encoding_; }
  // True for an entry that holds a value rather than a pointer: an xarray
  // value entry (bit 0), or a radix tree's exceptional entry (bit 1).
  bool is_value(uint64_t entry) const { return encoding_ == XArrayEncoding::kXArray ? (entry & 1) : (entry & 2); }
  // Slots per node (XA_CHUNK_SIZE / RADIX_TREE_MAP_SIZE).
  uint64_t slots_per_node() const { return slot_count_; }

  // Every present entry of the tree at `root` (a struct xarray or struct
  // radix_tree_root), ascending by index. Siblings, retry and zero entries
  // are skipped; value / exceptional entries are returned as stored.
  // Problems are added to `warnings` as "<what>: ..."; never throws for bad
  // memory.
  std::vector<XArrayEntry> entries(const Object& root, const std::string& what, Warnings& warnings,
                                   XArrayOptions options = {}) const;

 private:
  struct Walk;
  void visit_node(Walk& walk, uint64_t node, uint64_t base, std::optional<unsigned> expected_shift, uint64_t parent,
                  uint64_t slot_in_parent, unsigned height) const;

  const Profile& profile_;
  XArrayEncoding encoding_;
  TypeRef root_type_;
  uint64_t root_head_offset_ = 0;  // xa_head / rnode
  std::optional<uint64_t> root_height_offset_;
  uint64_t root_height_size_ = 0;
  uint64_t node_size_ = 0;
  uint64_t slots_offset_ = 0, slot_count_ = 0;
  unsigned chunk_shift_ = 0;
  std::optional<uint64_t> shift_offset_, offset_offset_, parent_offset_, path_offset_;
  uint64_t path_size_ = 0;
};

}  // namespace memscope::linux_kernel
