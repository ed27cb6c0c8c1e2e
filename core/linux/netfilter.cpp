#include "core/linux/netfilter.h"

#include <array>
#include <cctype>
#include <map>
#include <unordered_set>

#include "core/linux/list.h"
#include "core/linux/syscalls.h"
#include "core/types/object.h"
#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/util/unaligned.h"

namespace memscope::linux_kernel {
namespace {

// Hook names the kernel defines as macros, so no profile has them: the
// user-space ABI headers fix them (linux/netfilter_arp.h,
// linux/netfilter_bridge.h, linux/netfilter_decnet.h).
constexpr std::array<const char*, 3> kArpHooks = {"IN", "OUT", "FORWARD"};
constexpr std::array<const char*, 6> kBridgeHooks = {"PRE_ROUTING", "LOCAL_IN", "FORWARD",
                                                     "LOCAL_OUT", "POST_ROUTING", "BROUTING"};
constexpr std::array<const char*, 7> kDecnetHooks = {"PRE_ROUTING", "LOCAL_IN", "FORWARD", "LOCAL_OUT",
                                                     "POST_ROUTING", "HELLO", "ROUTE"};

std::string lowercase(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

// value -> name without `prefix`, for the enumerators of `type` that start with it.
std::map<int64_t, std::string> names_by_value(const Profile& profile, const TypeInfo* type, std::string_view prefix) {
  std::map<int64_t, std::string> out;
  if (!type || type->kind != TypeKind::kEnum) return out;
  for (const EnumeratorInfo& e : profile.enumerators(*type)) {
    std::string_view name = profile.name(e);
    if (name.starts_with(prefix) && !name.ends_with("NUMHOOKS") && !name.ends_with("NUMPROTO"))
      out.emplace(e.value, std::string(name.substr(prefix.size())));
  }
  return out;
}

// The (often anonymous) enum holding the enumerator `probe`.
const TypeInfo* enum_holding(const Profile& profile, std::string_view probe) {
  for (const TypeInfo& type : profile.types()) {
    if (type.kind != TypeKind::kEnum) continue;
    for (const EnumeratorInfo& e : profile.enumerators(type))
      if (profile.name(e) == probe) return &profile.type(type.id);
  }
  return nullptr;
}

// One hook point: a family and a hook number in one namespace.
struct Point {
  uint64_t net = 0;
  std::optional<uint64_t> netns;
  std::string family;
  unsigned hook_number = 0;
  std::string hook;

  std::string label() const {
    std::string out = family + " " + hook;
    if (netns) out += " (netns " + std::to_string(*netns) + ")";
    return out;
  }
};

class HookReader {
 public:
  HookReader(const KernelView& kernel, Warnings& warnings)
      : kernel_(kernel), profile_(kernel.profile()), warnings_(warnings) {
    inet_names_ = names_by_value(profile_, profile_.find_type("enum nf_inet_hooks"), "NF_INET_");
    netdev_names_ = names_by_value(profile_, profile_.find_type("enum nf_dev_hooks"), "NF_NETDEV_");
  }

  std::string hook_name(const std::string& family, unsigned number) const {
    auto from = [&](const auto& names) -> std::string {
      return number < names.size() ? names[number] : std::to_string(number);
    };
    if (family == "arp") return from(kArpHooks);
    if (family == "bridge") return from(kBridgeHooks);
    if (family == "decnet") return from(kDecnetHooks);
    const auto& names = family == "netdev" ? netdev_names_ : inet_names_;
    auto it = names.find(number);
    return it != names.end() ? it->second : std::to_string(number);
  }

  // A struct nf_hook_entries (4.14+).
  void entries(uint64_t address, const Point& point, std::vector<NetfilterHook>& out) {
    const std::string what = "netfilter " + point.label() + ": nf_hook_entries " + hex_address(address);
    try {
      const TypeInfo& type = profile_.require_type("nf_hook_entries");
      const TypeInfo& entry = profile_.require_type("nf_hook_entry");
      const uint64_t hooks = address + profile_.require_member(type, "hooks").offset;
      const uint64_t hook_offset = profile_.require_member(entry, "hook").offset;
      Object e(profile_, kernel_.kernel(), type.id, address);
      const uint64_t count = e["num_hook_entries"].as_u64();
      if (count > kMaxHooksPerPoint) {
        warnings_.add(what + ": " + std::to_string(count) + " hooks is not plausible; not read");
        return;
      }
      std::vector<uint8_t> bytes(count * entry.size);
      kernel_.kernel().read_exact(hooks, bytes.data(), bytes.size());
      // The nf_hook_ops each entry was registered with follow the entries.
      auto ops = read_pointer_array(kernel_.kernel(), hooks + count * entry.size, count, what + ": orig_ops",
                                    warnings_);
      for (uint64_t i = 0; i < count; ++i) {
        NetfilterHook hook = make(point, static_cast<unsigned>(i));
        hook.handler = load_unaligned<uint64_t>(bytes.data() + i * entry.size + hook_offset);
        if (ops[i] && *ops[i]) {
          hook.ops = *ops[i];
          hook.priority = priority_of(*ops[i], what);
        }
        out.push_back(std::move(hook));
      }
    } catch (const Error& e) {
      warnings_.add(what + ": " + e.what());
    }
  }

  // A chain of struct nf_hook_entry { next, ops } (4.10-4.13).
  void chain(uint64_t first, const Point& point, std::vector<NetfilterHook>& out) {
    std::unordered_set<uint64_t> seen;
    unsigned position = 0;
    for (uint64_t node = first; node;) {
      const std::string what = "netfilter " + point.label() + ": nf_hook_entry " + hex_address(node);
      if (position == kMaxHooksPerPoint || !seen.insert(node).second) {
        warnings_.add(what + ": " + (position == kMaxHooksPerPoint ? "too many hooks" : "cycle") + "; stopped there");
        return;
      }
      try {
        Object entry = kernel_.object("nf_hook_entry", node);
        NetfilterHook hook = make(point, position++);
        hook.handler = entry["ops.hook"].pointer();
        hook.priority = entry["ops.priority"].as_i64();
        if (entry.has_member("orig_ops")) hook.ops = entry["orig_ops"].pointer();
        out.push_back(std::move(hook));
        node = entry["next"].pointer();
      } catch (const Error& e) {
        warnings_.add(what + ": " + e.what() + "; the chain stops there");
        return;
      }
    }
  }

  // A list_head of struct nf_hook_ops (4.9 and older).
  void list(const Object& head, const Point& point, std::vector<NetfilterHook>& out) {
    WalkOptions options;
    options.limit = kMaxHooksPerPoint;
    unsigned position = 0;
    for (const Object& ops : list_entries_recovering(head, "nf_hook_ops", "list", "netfilter " + point.label(),
                                                     warnings_, options)) {
      NetfilterHook hook = make(point, position++);
      hook.ops = ops.address();
      try {
        hook.handler = ops["hook"].pointer();
        hook.priority = ops["priority"].as_i64();
      } catch (const Error& e) {
        warnings_.add("netfilter " + point.label() + ": nf_hook_ops " + hex_address(ops.address()) + ": " + e.what());
        continue;
      }
      out.push_back(std::move(hook));
    }
  }

 private:
  NetfilterHook make(const Point& point, unsigned position) const {
    NetfilterHook hook;
    hook.net = point.net;
    hook.netns = point.netns;
    hook.family = point.family;
    hook.hook_number = point.hook_number;
    hook.hook = point.hook;
    hook.position = position;
    return hook;
  }

  std::optional<int64_t> priority_of(uint64_t ops, const std::string& what) {
    try {
      return kernel_.object("nf_hook_ops", ops)["priority"].as_i64();
    } catch (const Error& e) {
      warnings_.add(what + ": nf_hook_ops " + hex_address(ops) + ": " + e.what());
      return std::nullopt;
    }
  }

  const KernelView& kernel_;
  const Profile& profile_;
  Warnings& warnings_;
  std::map<int64_t, std::string> inet_names_, netdev_names_;
};

// What one element of a [family][hook] matrix is.
enum class Element { kEntries, kChain, kList, kUnknown };

Element element_kind(const Profile& profile, const TypeInfo& element) {
  if (element.is_record() && profile.name(element) == "list_head") return Element::kList;
  if (!element.is_pointer() || !element.target.valid()) return Element::kUnknown;
  std::string_view target = profile.name(profile.type(element.target));
  if (target == "nf_hook_entries") return Element::kEntries;
  if (target == "nf_hook_entry") return Element::kChain;
  return Element::kUnknown;
}

class NetfilterWalk {
 public:
  NetfilterWalk(const KernelView& kernel, Warnings& warnings)
      : kernel_(kernel), profile_(kernel.profile()), warnings_(warnings), reader_(kernel, warnings) {}

  std::vector<NetfilterHook> run() {
    const TypeInfo* net = profile_.find_type("net");
    const MemberInfo* nf = net ? profile_.find_member(*net, "nf") : nullptr;
    if (!nf) return global_lists();
    const TypeInfo& netns_nf = profile_.type(nf->type);
    for (const Object& n : namespaces()) {
      Point base;
      base.net = n.address();
      base.netns = inode_of(n);
      const uint64_t nf_address = n.address() + nf->offset;
      bool found = false;
      for (const MemberInfo& m : profile_.members(netns_nf)) {
        std::string_view name = profile_.name(m);
        if (!name.starts_with("hooks_")) continue;
        found = true;
        const TypeInfo& array = profile_.type(m.type);
        if (!array.is_array() || !array.count) continue;
        family_array(nf_address + m.offset, array, std::string(name.substr(6)), base);
      }
      if (const MemberInfo* hooks = profile_.find_member(netns_nf, "hooks")) {
        found = true;
        matrix(nf_address + hooks->offset, profile_.type(hooks->type), base);
      }
      if (!found)
        profile_.fail("struct netns_nf has neither hooks_<family> arrays nor a hooks matrix: cannot find netfilter hooks");
    }
    return std::move(out_);
  }

 private:
  // Every namespace on net_namespace_list, or init_net alone.
  std::vector<Object> namespaces() {
    if (profile_.symbol("net_namespace_list")) {
      WalkOptions options;
      options.limit = kMaxNetNamespaces;
      auto all = list_entries_recovering(kernel_.symbol("net_namespace_list", "list_head"), "net", "list",
                                         "net_namespace_list", warnings_, options);
      if (!all.empty()) return all;
      warnings_.add("net_namespace_list: no namespace on it; reading init_net alone");
    }
    return {kernel_.symbol("init_net", "net")};
  }

  std::optional<uint64_t> inode_of(const Object& net) {
    try {
      if (net.has_member("ns")) return net["ns.inum"].as_u64();
      if (net.has_member("proc_inum")) return net["proc_inum"].as_u64();
    } catch (const Error& e) {
      warnings_.add("netfilter: struct net " + hex_address(net.address()) + ": cannot read its inode: " + e.what());
    }
    return std::nullopt;
  }

  Point point(const Point& base, std::string family, unsigned hook) const {
    Point p = base;
    p.family = std::move(family);
    p.hook_number = hook;
    p.hook = reader_.hook_name(p.family, hook);
    return p;
  }

  // Only the matrix layouts index by family: the NFPROTO enum (anonymous,
  // so found by one of its enumerators among all types) is looked up then.
  std::string family_name(unsigned index) {
    if (!family_names_) family_names_ = names_by_value(profile_, enum_holding(profile_, "NFPROTO_IPV4"), "NFPROTO_");
    auto it = family_names_->find(index);
    return it != family_names_->end() ? lowercase(it->second) : "family " + std::to_string(index);
  }

  // hooks_<family>[hook]: pointers to nf_hook_entries (4.16+).
  void family_array(uint64_t address, const TypeInfo& array, const std::string& family, const Point& base) {
    const TypeInfo& element = profile_.type(array.target);
    if (element_kind(profile_, element) != Element::kEntries) {
      warnings_.add("netfilter: netns_nf.hooks_" + family + " is not an array of nf_hook_entries pointers; skipped");
      return;
    }
    auto pointers = read_pointer_array(kernel_.kernel(), address, array.count,
                                       "netfilter: hooks_" + family + " at " + hex_address(address), warnings_);
    for (unsigned hook = 0; hook < pointers.size(); ++hook)
      if (pointers[hook] && *pointers[hook]) reader_.entries(*pointers[hook], point(base, family, hook), out_);
  }

  // hooks[family][hook] (4.3-4.15), or the global nf_hooks.
  void matrix(uint64_t address, const TypeInfo& outer, const Point& base) {
    if (!outer.is_array() || !outer.count) return;
    const TypeInfo& row = profile_.type(outer.target);
    if (!row.is_array() || !row.count) return;
    const TypeInfo& element = profile_.type(row.target);
    const Element kind = element_kind(profile_, element);
    if (kind == Element::kUnknown) {
      warnings_.add("netfilter: hooks matrix of " + profile_.type_name(element.id) + " is not a known layout; skipped");
      return;
    }
    for (unsigned family = 0; family < outer.count; ++family) {
      const uint64_t row_address = address + family * row.size;
      if (kind == Element::kList) {
        for (unsigned hook = 0; hook < row.count; ++hook) {
          Object head(profile_, kernel_.kernel(), element.id, row_address + hook * element.size);
          reader_.list(head, point(base, family_name(family), hook), out_);
        }
        continue;
      }
      auto pointers = read_pointer_array(kernel_.kernel(), row_address, row.count,
                                         "netfilter: hooks[" + std::to_string(family) + "] at " + hex_address(row_address),
                                         warnings_);
      for (unsigned hook = 0; hook < pointers.size(); ++hook) {
        if (!pointers[hook] || !*pointers[hook]) continue;
        Point p = point(base, family_name(family), hook);
        if (kind == Element::kEntries)
          reader_.entries(*pointers[hook], p, out_);
        else
          reader_.chain(*pointers[hook], p, out_);
      }
    }
  }

  // Kernels before namespaced hooks: the global nf_hooks[family][hook].
  std::vector<NetfilterHook> global_lists() {
    const SymbolInfo* hooks = profile_.find_symbol("nf_hooks");
    if (!hooks || !hooks->type.valid())
      profile_.fail("neither net->nf nor a typed nf_hooks symbol: cannot find netfilter hooks");
    matrix(kernel_.symbol_address("nf_hooks"), profile_.type(hooks->type), Point{});
    return std::move(out_);
  }

  const KernelView& kernel_;
  const Profile& profile_;
  Warnings& warnings_;
  HookReader reader_;
  std::optional<std::map<int64_t, std::string>> family_names_;
  std::vector<NetfilterHook> out_;
};

}  // namespace

std::vector<NetfilterHook> netfilter_hooks(const KernelView& kernel, Warnings& warnings) {
  return NetfilterWalk(kernel, warnings).run();
}

}  // namespace memscope::linux_kernel
