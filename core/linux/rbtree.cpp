#include "core/linux/rbtree.h"

#include <unordered_set>

#include "core/util/hex.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {
namespace {

// __rb_parent_color keeps the colour in bit 0 (and bit 1 unused): the
// parent is the value with the low two bits cleared (include/linux/rbtree.h).
constexpr uint64_t kColorBits = 3;

class InOrderWalk {
 public:
  InOrderWalk(const Profile& profile, AddressSpace& space, const std::string& what, Warnings& warnings,
              const RbTreeOptions& options)
      : profile_(profile), space_(space), what_(what), warnings_(warnings), options_(options) {
    const TypeInfo& node = profile.require_type("rb_node");
    left_ = profile.require_member(node, "rb_left").offset;
    right_ = profile.require_member(node, "rb_right").offset;
    parent_ = profile.require_member(node, "__rb_parent_color").offset;
  }

  // Recursion depth is capped by options.max_depth, so the stack is bounded.
  void walk(uint64_t node, uint64_t parent, unsigned depth, std::vector<uint64_t>& out) {
    if (node == 0 || stopped_) return;
    if (depth > options_.max_depth) {
      warnings_.add(what_ + ": node " + hex(node) + " lies deeper than " + std::to_string(options_.max_depth) +
                    " levels; its subtree is not walked");
      return;
    }
    if (!seen_.insert(node).second) {
      warnings_.add(what_ + ": node met twice",
                    what_ + ": node " + hex(node) + " is reached twice (a cycle or a shared subtree); walked once");
      return;
    }
    uint64_t left = 0, right = 0, parent_color = 0;
    if (!read(node + left_, left, node) || !read(node + right_, right, node) ||
        !read(node + parent_, parent_color, node))
      return;
    if (options_.check_parents && (parent_color & ~kColorBits) != parent)
      warnings_.add(what_ + ": inconsistent parent", what_ + ": node " + hex(node) + ": parent is " +
                                                         hex(parent_color & ~kColorBits) + ", not " + hex(parent) +
                                                         " which points at it");
    walk(left, node, depth + 1, out);
    if (stopped_) return;
    if (out.size() >= options_.limit) {
      warnings_.add(what_ + ": limit of " + std::to_string(options_.limit) + " nodes reached at node " + hex(node));
      stopped_ = true;
      return;
    }
    out.push_back(node);
    walk(right, node, depth + 1, out);
  }

 private:
  bool read(uint64_t address, uint64_t& value, uint64_t node) {
    uint8_t bytes[8] = {};
    const size_t size = profile_.pointer_size();
    IoResult r = space_.read(address, bytes, size);
    if (!r.ok()) {
      warnings_.add(what_ + ": unreadable node", what_ + ": cannot read node " + hex(node) + ": " + r.fault->message());
      return false;
    }
    value = load_little_endian(bytes, size);
    return true;
  }

  const Profile& profile_;
  AddressSpace& space_;
  const std::string& what_;
  Warnings& warnings_;
  const RbTreeOptions& options_;
  uint64_t left_ = 0, right_ = 0, parent_ = 0;
  std::unordered_set<uint64_t> seen_;
  bool stopped_ = false;
};

}  // namespace

std::vector<uint64_t> rbtree_nodes(const Object& root, const std::string& what, Warnings& warnings,
                                   RbTreeOptions options) {
  const Profile& profile = root.profile();
  // rb_root_cached embeds an rb_root as `rb_root`; rb_root holds `rb_node`.
  Object tree = root.has_member("rb_root") ? root["rb_root"] : root;
  uint64_t top = 0;
  std::vector<uint64_t> out;
  {
    uint8_t bytes[8] = {};
    const size_t size = profile.pointer_size();
    const uint64_t at = tree["rb_node"].address();
    IoResult r = root.space().read(at, bytes, size);
    if (!r.ok()) {
      warnings.add(what + ": cannot read the root at " + hex(root.address()) + ": " + r.fault->message());
      return out;
    }
    top = load_little_endian(bytes, size);
  }
  InOrderWalk walk(profile, root.space(), what, warnings, options);
  walk.walk(top, 0, 1, out);
  return out;
}

std::vector<Object> rbtree_entries(const Object& root, std::string_view type_name, std::string_view member_path,
                                   const std::string& what, Warnings& warnings, RbTreeOptions options) {
  const Profile& profile = root.profile();
  const FieldRef field = profile.field(type_name, member_path);
  std::vector<Object> out;
  for (uint64_t node : rbtree_nodes(root, what, warnings, options))
    out.emplace_back(profile, root.space(), field.owner, node - field.offset);
  return out;
}

}  // namespace memscope::linux_kernel
