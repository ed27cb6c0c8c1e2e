// Walking red-black trees (`struct rb_root`, `struct rb_root_cached`) in
// order: the CFS runqueue (sched_entity.run_node), the module tree
// (mod_tree), VMAs before 6.1 (mm->mm_rb), timers, cgroups.
//
// A forged or smeared tree cannot make the walk loop or run away: a node
// met twice is walked once, the depth is capped (a real red-black tree of
// n nodes is at most 2 log2(n + 1) deep: 128 is more than any kernel has),
// and so is the number of nodes. A node whose parent pointer does not point
// back at the node that leads to it is reported (naming both) and still
// walked. Each problem is a warning naming the node's address.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/linux/warnings.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

struct RbTreeOptions {
  size_t limit = 4u << 20;  // nodes yielded at most
  unsigned max_depth = 128;
  bool check_parents = true;
};

// The rb_node addresses of the tree at `root` (a struct rb_root or struct
// rb_root_cached), in order (leftmost first). Warnings are "<what>: ..."; never throws for bad
// memory; throws ProfileError if the profile lacks struct rb_node.
std::vector<uint64_t> rbtree_nodes(const Object& root, const std::string& what, Warnings& warnings,
                                   RbTreeOptions options = {});

// The same, as the structures that embed the nodes: each a `type_name`
// whose member `member_path` ("run_node", "node.node") is the rb_node.
std::vector<Object> rbtree_entries(const Object& root, std::string_view type_name, std::string_view member_path,
                                   const std::string& what, Warnings& warnings, RbTreeOptions options = {});

}  // namespace memscope::linux_kernel
