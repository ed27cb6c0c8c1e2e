// Walking `struct hlist_head` chains and the hash tables built of them (the
// old pid hash, the dentry and inet hash tables), on memory a rootkit or a
// smeared dump may have damaged.
//
// An hlist is NULL-terminated and singly linked forward; `pprev` points at
// the previous link (the previous node's `next`, or the head's `first`),
// never at a node, so a chain cannot be walked backward past a break the way
// a list_head can (list.h). What can be done, is done here:
//   - every node's `pprev` is checked against the link that led to it; a
//     mismatch (a node unlinked by hand, or a forged one) is reported,
//     naming the node, and the walk goes on;
//   - a chain that breaks (cycle, wild or unreadable `next`, the limit)
//     keeps the entries before the break, with a warning naming the node;
//   - in a hash table, a broken chain costs that chain only: the walk
//     recovers at the next bucket, and a node met in two chains is reported
//     and yielded once.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/linux/warnings.h"
#include "core/types/object.h"

namespace memscope::linux_kernel {

struct HlistOptions {
  // Entries yielded per chain, and over a whole table (PID_MAX_LIMIT: no
  // kernel hash table holds more; a forged one stops here).
  size_t chain_limit = 4u << 20;
  size_t table_limit = 4u << 20;
  // Report nodes whose pprev does not point back at the link that led to
  // them.
  bool check_pprev = true;
};

// The entries of the chain anchored at `head` (a struct hlist_head), each a
// `type_name` linked by its hlist_node member `member` ("pid_chain",
// "pids.node"). Warnings name `what` and the node at fault. Never throws for
// bad memory; throws ProfileError if the profile lacks the types.
std::vector<Object> hlist_chain(const Object& head, std::string_view type_name, std::string_view member,
                                const std::string& what, Warnings& warnings, HlistOptions options = {});

// The same, for a node that is not a named member: the entries are
// `container` objects whose hlist_node lies `node_offset` bytes in (an
// element of an array of nodes: task_struct.pid_links[type]).
std::vector<Object> hlist_chain(const Object& head, TypeRef container, uint64_t node_offset, const std::string& what,
                                Warnings& warnings, HlistOptions options = {});

// The entries of every chain of a hash table of `buckets` struct hlist_head
// at `table` (a kernel virtual address in head.space()), bucket by bucket.
// `buckets` is checked by the caller against what the kernel allows (it is
// read from the image); the walk itself stops at options.table_limit.
std::vector<Object> hlist_table_entries(const Profile& profile, AddressSpace& space, uint64_t table, uint64_t buckets,
                                        std::string_view type_name, std::string_view member, const std::string& what,
                                        Warnings& warnings, HlistOptions options = {});

}  // namespace memscope::linux_kernel
