// Netfilter hooks: the functions the network stack calls on each packet at
// each hook point (PRE_ROUTING, LOCAL_IN, ...) of each protocol family.
// A rootkit registers one to hide traffic or wait for a magic packet.
//
// Where the kernel keeps them changed over the 4.x series; the profile says
// which layout this kernel has:
//   4.16+      per network namespace, net->nf.hooks_ipv4[NF_INET_NUMHOOKS],
//              hooks_ipv6, hooks_arp, hooks_bridge (, hooks_decnet): each a
//              struct nf_hook_entries * { num_hook_entries; hooks[] of
//              { hook, priv } }, followed in memory by the nf_hook_ops *
//              each entry came from (nf_hook_entries_get_hook_ops)
//   4.14-4.15  the same entries in one matrix net->nf.hooks[family][hook]
//   4.10-4.13  net->nf.hooks[family][hook]: a chain of struct
//              nf_hook_entry { next, ops }
//   4.3-4.9    net->nf.hooks[family][hook]: list_heads of nf_hook_ops
//   older      the global nf_hooks[family][hook] list_heads
// Namespaces come from net_namespace_list (init_net alone without it).
// Hooks on a network device's ingress (net_device->nf_hooks_ingress) are
// not read here.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// nf_hook_entries_grow() refuses more than MAX_HOOK_COUNT (1024) hooks at
// one point; and no system has anywhere near this many namespaces.
inline constexpr uint64_t kMaxHooksPerPoint = 1024;
inline constexpr size_t kMaxNetNamespaces = 1u << 16;

struct NetfilterHook {
  uint64_t net = 0;                 // the struct net (0 for the global lists of old kernels)
  std::optional<uint64_t> netns;    // its namespace inode number, as lsns shows it
  std::string family;               // "ipv4", "ipv6", "arp", "bridge", ...
  unsigned hook_number = 0;
  std::string hook;                 // "PRE_ROUTING", "LOCAL_IN", ... or the number
  unsigned position = 0;            // order in which the hooks at this point run
  uint64_t handler = 0;
  std::optional<int64_t> priority;
  std::optional<uint64_t> ops;      // the struct nf_hook_ops it was registered with
};

// Every hook of every namespace. A structure that cannot be read costs that
// hook point or namespace, with a warning naming the address. Throws
// ProfileError when the profile has none of the layouts above.
std::vector<NetfilterHook> netfilter_hooks(const KernelView& kernel, Warnings& warnings);

}  // namespace memscope::linux_kernel
