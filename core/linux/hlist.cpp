#include "core/linux/hlist.h"

#include <unordered_set>

#include "core/util/hex.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {
namespace {

// The offsets an hlist walk needs, from the profile once per walk.
class ChainWalker {
 public:
  ChainWalker(const Profile& profile, AddressSpace& space, std::string_view type_name, std::string_view member,
              const std::string& what, Warnings& warnings, const HlistOptions& options)
      : ChainWalker(profile, space, profile.field(type_name, member).owner, profile.field(type_name, member).offset,
                    what, warnings, options) {}
  ChainWalker(const Profile& profile, AddressSpace& space, TypeRef container, uint64_t node_offset,
              const std::string& what, Warnings& warnings, const HlistOptions& options)
      : profile_(profile),
        space_(space),
        container_(container),
        what_(what),
        warnings_(warnings),
        options_(options),
        member_offset_(node_offset) {
    const TypeInfo& node = profile.require_type("hlist_node");
    next_offset_ = profile.require_member(node, "next").offset;
    pprev_offset_ = profile.require_member(node, "pprev").offset;
    first_offset_ = profile.offset_of("hlist_head", "first");
  }

  uint64_t head_size() const { return profile_.size_of("hlist_head"); }

  // Appends the entries of the chain at `head` to `out`, skipping (with a
  // warning) nodes already met in `seen`.
  void walk(uint64_t head, std::vector<Object>& out, std::unordered_set<uint64_t>& seen, size_t total_limit) {
    uint64_t link = head + first_offset_;  // the link that points at the next node
    uint64_t node = 0;
    if (!read_pointer(link, node, "the chain head " + hex(head))) return;
    std::unordered_set<uint64_t> in_chain;
    size_t count = 0;
    while (node != 0) {
      if (count >= options_.chain_limit) {
        warnings_.add(what_ + ": chain at " + hex(head) + ": limit of " + std::to_string(options_.chain_limit) +
                      " entries reached");
        return;
      }
      if (out.size() >= total_limit) {
        warnings_.add(what_ + ": limit of " + std::to_string(total_limit) + " entries reached at chain " + hex(head));
        return;
      }
      if (!in_chain.insert(node).second) {
        warnings_.add(what_ + ": cycle", what_ + ": chain at " + hex(head) + ": cycle, node " + hex(node) +
                                             " met twice; stopped after " + std::to_string(count) + " entries");
        return;
      }
      uint64_t next = 0;
      if (!read_pointer(node + next_offset_, next, "the next pointer of node " + hex(node))) return;
      if (options_.check_pprev) {
        uint64_t pprev = 0;
        if (read_pointer(node + pprev_offset_, pprev, "the pprev pointer of node " + hex(node)) && pprev != link)
          warnings_.add(what_ + ": pprev mismatch", what_ + ": node " + hex(node) + " (chain at " + hex(head) +
                                                        "): pprev is " + hex(pprev) + ", not the link " + hex(link) +
                                                        " that leads to it");
      }
      ++count;
      if (seen.insert(node).second) {
        out.emplace_back(profile_, space_, container_, node - member_offset_);
      } else {
        warnings_.add(
            what_ + ": node in two chains",
            what_ + ": node " + hex(node) + " is in more than one chain (met again in the chain at " + hex(head) + ")");
      }
      link = node + next_offset_;
      node = next;
    }
  }

 private:
  bool read_pointer(uint64_t address, uint64_t& value, const std::string& what) {
    uint8_t bytes[8] = {};
    const size_t size = profile_.pointer_size();
    IoResult r = space_.read(address, bytes, size);
    if (!r.ok()) {
      warnings_.add(what_ + ": unreadable link", what_ + ": cannot read " + what + ": " + r.fault->message());
      return false;
    }
    value = load_little_endian(bytes, size);
    return true;
  }

  const Profile& profile_;
  AddressSpace& space_;
  TypeRef container_;
  const std::string& what_;
  Warnings& warnings_;
  const HlistOptions& options_;
  uint64_t member_offset_ = 0, next_offset_ = 0, pprev_offset_ = 0, first_offset_ = 0;
};

}  // namespace

std::vector<Object> hlist_chain(const Object& head, std::string_view type_name, std::string_view member,
                                const std::string& what, Warnings& warnings, HlistOptions options) {
  ChainWalker walker(head.profile(), head.space(), type_name, member, what, warnings, options);
  std::vector<Object> out;
  std::unordered_set<uint64_t> seen;
  walker.walk(head.address(), out, seen, options.chain_limit);
  return out;
}

std::vector<Object> hlist_chain(const Object& head, TypeRef container, uint64_t node_offset, const std::string& what,
                                Warnings& warnings, HlistOptions options) {
  ChainWalker walker(head.profile(), head.space(), container, node_offset, what, warnings, options);
  std::vector<Object> out;
  std::unordered_set<uint64_t> seen;
  walker.walk(head.address(), out, seen, options.chain_limit);
  return out;
}

std::vector<Object> hlist_table_entries(const Profile& profile, AddressSpace& space, uint64_t table, uint64_t buckets,
                                        std::string_view type_name, std::string_view member, const std::string& what,
                                        Warnings& warnings, HlistOptions options) {
  ChainWalker walker(profile, space, type_name, member, what, warnings, options);
  std::vector<Object> out;
  std::unordered_set<uint64_t> seen;
  const uint64_t stride = walker.head_size();
  for (uint64_t bucket = 0; bucket < buckets; ++bucket) {
    if (out.size() >= options.table_limit) {
      warnings.add(what + ": limit of " + std::to_string(options.table_limit) + " entries reached at bucket " +
                   std::to_string(bucket) + " of " + std::to_string(buckets));
      break;
    }
    walker.walk(table + bucket * stride, out, seen, options.table_limit);
  }
  return out;
}

}  // namespace memscope::linux_kernel
