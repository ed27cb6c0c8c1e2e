#include "core/linux/notifiers.h"

#include <unordered_set>

#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {

std::vector<NotifierBlock> notifier_chain(const KernelView& kernel, uint64_t head_address, std::string_view head_type,
                                          const std::string& what, Warnings& warnings) {
  const Profile& profile = kernel.profile();
  const TypeInfo& block_type = profile.require_type("notifier_block");
  const FieldRef call = profile.field(block_type, "notifier_call");
  const FieldRef next = profile.field(block_type, "next");
  const bool has_priority = profile.find_member(block_type, "priority") != nullptr;
  const FieldRef priority = has_priority ? profile.field(block_type, "priority") : FieldRef{};

  std::vector<NotifierBlock> out;
  uint64_t node = 0;
  try {
    node = kernel.object(head_type, head_address)["head"].pointer();
  } catch (const Error& e) {
    warnings.add(what + ": cannot read its head at " + hex_address(head_address) + ": " + e.what());
    return out;
  }
  std::unordered_set<uint64_t> seen;
  while (node) {
    if (out.size() == kMaxNotifiers) {
      warnings.add(what + ": more than " + std::to_string(kMaxNotifiers) + " callbacks; stopped at " +
                   hex_address(node));
      break;
    }
    if (!seen.insert(node).second) {
      warnings.add(what + ": cycle: the chain comes back to " + hex_address(node) + "; stopped there");
      break;
    }
    Object block(profile, kernel.kernel(), block_type.id, node);
    NotifierBlock entry;
    entry.address = node;
    try {
      entry.callback = block[call].pointer();
      if (has_priority) entry.priority = block[priority].as_i64();
      node = block[next].pointer();
    } catch (const Error& e) {
      warnings.add(what + ": cannot read notifier_block " + hex_address(entry.address) + ": " + e.what() +
                   "; the chain stops there");
      break;
    }
    out.push_back(entry);
  }
  return out;
}

std::vector<NotifierBlock> notifier_chain(const KernelView& kernel, std::string_view symbol,
                                          std::string_view head_type, Warnings& warnings) {
  const Profile& profile = kernel.profile();
  std::string type(head_type);
  if (const SymbolInfo* s = profile.find_symbol(symbol); s && s->type.valid()) {
    const TypeInfo& declared = profile.type(s->type);
    if (declared.is_record() && profile.find_member(declared, "head")) type = std::string(profile.name(declared));
  }
  return notifier_chain(kernel, kernel.symbol_address(symbol), type, std::string(symbol), warnings);
}

}  // namespace memscope::linux_kernel
