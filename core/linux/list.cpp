#include "core/linux/list.h"

#include <algorithm>
#include <unordered_set>

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/limits.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {

std::vector<Object> list_entries_recovering(const Object& head, std::string_view type_name,
                                            std::string_view member, const std::string& what,
                                            Warnings& warnings, WalkOptions options) {
  const Profile& profile = head.profile();
  const TypeRef container = profile.require_type(type_name).id;
  const FieldRef link = profile.field(type_name, member);
  const uint64_t prev_offset = profile.offset_of(profile.type_name(link.type), "prev");

  std::vector<Object> entries;
  std::unordered_set<uint64_t> nodes;  // list_head addresses already yielded
  ListWalk forward = list_entries(head, type_name, member, options);
  for (Object entry : forward) {
    entries.push_back(entry);
    nodes.insert(entry.address() + link.offset);
  }
  if (forward.complete()) return entries;
  for (const std::string& w : forward.warnings()) warnings.add(what + ": " + w);

  // Backward from the head: each node's `prev` leads toward the break.
  std::vector<Object> tail;
  AddressSpace& space = head.space();
  const size_t pointer_size = profile.pointer_size();
  auto read_prev = [&](uint64_t node, uint64_t& prev) {
    uint8_t bytes[8] = {};
    IoResult r = space.read(node + prev_offset, bytes, pointer_size);
    if (!r.ok()) {
      warnings.add(what + ": walking backward, cannot read the prev pointer of node " + hex(node) + ": " +
                         r.fault->message());
      return false;
    }
    prev = load_little_endian(bytes, pointer_size);
    return true;
  };
  std::unordered_set<uint64_t> seen_backward;
  uint64_t from = head.address();  // the node whose prev pointer is `node`
  uint64_t node = 0;
  bool ok = read_prev(from, node);
  while (ok) {
    if (node == head.address() || nodes.count(node)) break;  // joined the forward part (or went all round)
    if (node == 0) {
      warnings.add(what + ": walking backward, NULL prev pointer in node " + hex(from));
      break;
    }
    if (entries.size() + tail.size() >= options.limit) {
      warnings.add(what + ": walking backward, more than " + std::to_string(options.limit) + " entries: stopped at " +
                   (options.limit == active_limits().max_list
                        ? limit_hint("max_list", options.limit, kMaxListOption)
                        : "the walk's limit"));
      break;
    }
    if (!seen_backward.insert(node).second) {
      warnings.add(what + ": walking backward, cycle at node " + hex(node));
      break;
    }
    uint64_t prev = 0;
    if (!read_prev(node, prev)) break;  // an entry is kept only if the walk can go on from it
    tail.emplace_back(profile, space, container, node - link.offset);
    from = node;
    node = prev;
  }
  if (!tail.empty()) {
    warnings.add(what + ": recovered " + std::to_string(tail.size()) +
                       " entries beyond the break by walking backward from the head");
    std::reverse(tail.begin(), tail.end());
    entries.insert(entries.end(), tail.begin(), tail.end());
  }
  return entries;
}

}  // namespace memscope::linux_kernel
