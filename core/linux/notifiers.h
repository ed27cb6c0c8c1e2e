// Notifier chains (include/linux/notifier.h): a head (atomic_, blocking_,
// raw_ or srcu_notifier_head, each with a `head` pointer) and a
// NULL-terminated singly linked list of struct notifier_block
// { notifier_call, next, priority }, sorted by priority. Rootkits register
// on them to see keystrokes (keyboard_notifier_list), module loads
// (module_notify_list) or network devices (netdev_chain).
//
// The walk is bounded (kMaxNotifiers), stops at a cycle, a NULL-after-wild
// or unreadable pointer with a warning naming the address, and keeps the
// blocks read before it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// No kernel chain holds this many callbacks; a longer one is forged.
inline constexpr size_t kMaxNotifiers = 4096;

struct NotifierBlock {
  uint64_t address = 0;  // the struct notifier_block
  std::optional<uint64_t> callback;  // notifier_call
  std::optional<int64_t> priority;
};

// The blocks of the chain whose head (a `head_type`, e.g.
// "atomic_notifier_head") is at `head_address`. `what` names the chain in
// warnings ("keyboard_notifier_list"). Throws ProfileError when the profile
// lacks the head type or struct notifier_block.
std::vector<NotifierBlock> notifier_chain(const KernelView& kernel, uint64_t head_address, std::string_view head_type,
                                          const std::string& what, Warnings& warnings);

// The chain at the symbol `symbol`, whose head type is the symbol's own
// type in the profile when that is a notifier head, else `head_type`.
std::vector<NotifierBlock> notifier_chain(const KernelView& kernel, std::string_view symbol,
                                          std::string_view head_type, Warnings& warnings);

}  // namespace memscope::linux_kernel
