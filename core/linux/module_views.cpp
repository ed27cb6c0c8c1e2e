#include "core/linux/module_views.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "core/linux/list.h"
#include "core/linux/rbtree.h"
#include "core/util/error.h"
#include "core/util/hex.h"

namespace memscope::linux_kernel {
namespace {

constexpr uint64_t kPage = 4096;
// struct module is ____cacheline_aligned (include/linux/module.h).
constexpr uint64_t kModuleAlignment = 64;
// A per-page scan is used up to this size; above, the page tables are
// enumerated (cheaper where most of the range is unmapped).
constexpr uint64_t kTranslateEachPageBelow = uint64_t{64} << 20;

uint64_t load(const uint8_t* p, uint64_t n) {
  uint64_t v = 0;
  std::memcpy(&v, p, std::min<uint64_t>(n, 8));
  if (n < 8) v &= (uint64_t{1} << (8 * n)) - 1;
  return v;
}

bool printable_name(const uint8_t* bytes, uint64_t size) {
  if (size == 0 || bytes[0] <= 0x20 || bytes[0] >= 0x7f) return false;
  for (uint64_t i = 0; i < size; ++i) {
    if (bytes[i] == 0) return true;
    if (bytes[i] <= 0x20 || bytes[i] >= 0x7f) return false;
  }
  return false;  // no terminating NUL
}

}  // namespace

std::vector<std::string> module_view_names(unsigned views) {
  std::vector<std::string> out;
  if (views & kModuleInList) out.push_back("list");
  if (views & kModuleInSysfs) out.push_back("sysfs");
  if (views & kModuleInTree) out.push_back("mod_tree");
  if (views & kModuleInMemory) out.push_back("memory");
  return out;
}

ModuleViews::ModuleViews(const KernelView& kernel) : kernel_(kernel), reader_(kernel) {
  const Profile& profile = kernel.profile();
  const TypeInfo& module = profile.require_type("module");
  module_type_ = module.id;
  const MemberInfo& name = profile.require_member(module, "name");
  name_offset_ = name.offset;
  name_size_ = profile.type(name.type).size;
  const MemberInfo& state = profile.require_member(module, "state");
  state_offset_ = state.offset;
  state_size_ = profile.type(state.type).size;
  if (state_size_ == 0 || state_size_ > 8) profile.fail("module.state has an unusable size");
  const TypeInfo& state_type = profile.type(state.type);
  if (state_type.kind == TypeKind::kEnum) {
    int64_t highest = 0;
    for (const EnumeratorInfo& e : profile.enumerators(state_type)) highest = std::max(highest, e.value);
    if (highest > 0) state_max_ = highest;
  }
  list_offset_ = profile.offset_of("module", "list");
  if (profile.find_member(module, "mkobj") && profile.has_member("module_kobject", "mod"))
    mkobj_mod_offset_ = profile.offset_of("module", "mkobj") + profile.offset_of("module_kobject", "mod");
}

std::optional<std::vector<uint64_t>> ModuleViews::list(Warnings& warnings) const {
  try {
    return reader_.modules(warnings);
  } catch (const Error& e) {
    warnings.add("modules: the modules list cannot be read: " + std::string(e.what()));
    return std::nullopt;
  }
}

std::optional<std::vector<SysfsModule>> ModuleViews::sysfs(Warnings& warnings) const {
  std::vector<SysfsModule> out;
  const Profile& profile = kernel_.profile();
  if (!profile.find_symbol("module_kset") || !profile.find_type("kset") || !profile.find_type("module_kobject")) {
    warnings.add(
        "modules: no module_kset (or struct kset, struct module_kobject) in the profile: /sys/module is not used");
    return std::nullopt;
  }
  try {
    const uint64_t kset = kernel_.kernel().read_value<uint64_t>(kernel_.symbol_address("module_kset"));
    if (kset == 0) {
      warnings.add("modules: module_kset is NULL: /sys/module is not used");
      return std::nullopt;
    }
    const uint64_t kobj_offset = profile.offset_of("module_kobject", "kobj");
    for (const Object& kobject : list_entries_recovering(kernel_.object("kset", kset)["list"], "kobject", "entry",
                                                         "/sys/module (module_kset)", warnings)) {
      SysfsModule entry;
      entry.kobject = kobject.address();
      ItemFailures failed;
      failed.attempt("name", [&] { entry.name = kobject["name"].as_string(64); });
      failed.attempt("mod", [&] {
        entry.module = kernel_.object("module_kobject", kobject.address() - kobj_offset)["mod"].pointer();
      });
      failed.report(warnings, "sysfs module", "/sys/module kobject " + hex_address(kobject.address()));
      out.push_back(std::move(entry));
    }
  } catch (const Error& e) {
    warnings.add("modules: cannot read /sys/module (module_kset): " + std::string(e.what()));
    return std::nullopt;
  }
  return out;
}

std::vector<uint64_t> ModuleViews::tree(Warnings& warnings) const {
  std::vector<uint64_t> out;
  const Profile& profile = kernel_.profile();
  if (!profile.find_symbol("mod_tree") || !profile.find_type("mod_tree_root") || !profile.find_type("mod_tree_node")) {
    warnings.add(
        "modules: no mod_tree in the profile (kernels before 4.2, or without CONFIG_MODULES_TREE_LOOKUP): the module "
        "tree is not used");
    return out;
  }
  try {
    Object root = kernel_.symbol("mod_tree", "mod_tree_root");
    const uint64_t node_offset =
        profile.offset_of("mod_tree_node", "node") + profile.offset_of("latch_tree_node", "node");
    const uint64_t rb_size = profile.size_of("rb_node");
    const uint64_t mod_offset = profile.offset_of("mod_tree_node", "mod");
    Object trees = root["root"]["tree"];
    std::set<uint64_t> copies[2];
    for (uint64_t copy = 0; copy < 2 && copy < std::max<uint64_t>(trees.count(), 1); ++copy) {
      for (uint64_t node :
           rbtree_nodes(trees.at(copy), "module tree (mod_tree copy " + std::to_string(copy) + ")", warnings)) {
        const uint64_t mtn = node - copy * rb_size - node_offset;
        uint64_t mod = 0;
        IoResult r = kernel_.kernel().read(mtn + mod_offset, &mod, 8);
        if (!r.ok()) {
          warnings.add("modules: mod_tree node " + hex_address(mtn) + ": " + r.fault->message());
          continue;
        }
        if (mod) copies[copy].insert(mod);
      }
    }
    // The latch keeps two copies of one tree: a difference is tampering.
    if (trees.count() >= 2 && copies[0] != copies[1])
      warnings.add("modules: the two copies of mod_tree (at " + hex_address(trees.address()) +
                   ") hold different modules");
    std::set<uint64_t> both = copies[0];
    both.insert(copies[1].begin(), copies[1].end());
    out.assign(both.begin(), both.end());
  } catch (const Error& e) {
    warnings.add("modules: cannot read mod_tree: " + std::string(e.what()));
  }
  return out;
}

bool ModuleViews::plausible(uint64_t address, std::string* why) const {
  auto fail = [&](const std::string& reason) {
    if (why) *why = reason;
    return false;
  };
  AddressSpace& space = kernel_.kernel();
  uint8_t state[8] = {};
  if (!space.read(address + state_offset_, state, state_size_).ok()) return fail("state unreadable");
  const uint64_t value = load(state, state_size_);
  if (value > static_cast<uint64_t>(state_max_)) return fail("state " + std::to_string(value) + " out of range");
  std::vector<uint8_t> name(name_size_);
  if (!space.read(address + name_offset_, name.data(), name.size()).ok()) return fail("name unreadable");
  if (!printable_name(name.data(), name.size())) return fail("name not printable");
  const uint64_t list = address + list_offset_;
  const uint64_t next_offset = kernel_.profile().offset_of("list_head", "next");
  const uint64_t prev_offset = kernel_.profile().offset_of("list_head", "prev");
  uint64_t next = 0, prev = 0;
  if (!space.read(list + next_offset, &next, 8).ok() || !space.read(list + prev_offset, &prev, 8).ok())
    return fail("list unreadable");
  if (!(next == list && prev == list)) {  // self-linked: unlinked by hand, as a rootkit does
    uint64_t back = 0, forward = 0;
    if (!space.read(next + prev_offset, &back, 8).ok() || back != list ||
        !space.read(prev + next_offset, &forward, 8).ok() || forward != list)
      return fail("list links do not point back");
  }
  if (mkobj_mod_offset_) {
    uint64_t mod = 0;
    if (!space.read(address + *mkobj_mod_offset_, &mod, 8).ok() || mod != address)
      return fail("mkobj.mod does not point back");
  }
  return true;
}

std::vector<uint64_t> ModuleViews::scan(uint64_t begin, uint64_t end, Warnings& warnings) const {
  std::vector<uint64_t> out;
  begin &= ~(kPage - 1);
  if (end <= begin) return out;
  if (end - begin > kMaxScanBytes) {
    warnings.add("modules: the module area " + hex_address(begin) + "-" + hex_address(end) + " is larger than " +
                 std::to_string(kMaxScanBytes >> 20) + " MiB; its memory is not scanned");
    return out;
  }
  X86_64Paging& space = kernel_.kernel();
  std::vector<uint8_t> page(kPage);
  auto scan_page = [&](uint64_t at) {
    if (!space.read(at, page.data(), kPage).ok()) return;
    for (uint64_t offset = 0; offset < kPage; offset += kModuleAlignment) {
      // Cheap checks on the page's bytes first, when the fields lie in it.
      if (offset + state_offset_ + state_size_ <= kPage &&
          load(page.data() + offset + state_offset_, state_size_) > static_cast<uint64_t>(state_max_))
        continue;
      if (offset + name_offset_ + name_size_ <= kPage &&
          !printable_name(page.data() + offset + name_offset_, name_size_))
        continue;
      if (plausible(at + offset)) out.push_back(at + offset);
    }
  };
  if (end - begin <= kTranslateEachPageBelow) {
    for (uint64_t at = begin; at < end; at += kPage)
      if (space.translate(at)) scan_page(at);
  } else {
    space.for_each_mapping([&](uint64_t vaddr, uint64_t, uint64_t size, const Translation&) {
      if (vaddr + size <= begin) return true;
      if (vaddr >= end) return false;
      for (uint64_t at = std::max(vaddr, begin); at < std::min(vaddr + size, end); at += kPage) scan_page(at);
      return true;
    });
  }
  return out;
}

std::vector<ModuleSighting> ModuleViews::all(Warnings& warnings, bool scan_memory, bool* list_read) const {
  std::map<uint64_t, ModuleSighting> seen;
  auto see = [&](uint64_t address, unsigned view) {
    ModuleSighting& s = seen[address];
    s.address = address;
    s.views |= view;
    return &s;
  };
  auto listed = list(warnings);
  if (list_read) *list_read = listed.has_value();
  for (uint64_t m : listed.value_or(std::vector<uint64_t>{})) see(m, kModuleInList);
  for (const SysfsModule& s : sysfs(warnings).value_or(std::vector<SysfsModule>{}))
    if (s.module) see(s.module, kModuleInSysfs)->sysfs_name = s.name;
  for (uint64_t m : tree(warnings)) see(m, kModuleInTree);
  if (scan_memory) {
    // The module area: mod_tree's bounds, else the extent of what was seen.
    uint64_t begin = ~uint64_t{0}, end = 0;
    try {
      if (kernel_.profile().find_symbol("mod_tree") && kernel_.profile().has_member("mod_tree_root", "addr_min")) {
        Object root = kernel_.symbol("mod_tree", "mod_tree_root");
        begin = root["addr_min"].as_u64();
        end = root["addr_max"].as_u64();
      }
    } catch (const Error& e) {
      warnings.add("modules: cannot read mod_tree's bounds: " + std::string(e.what()));
    }
    if (end <= begin) {
      Warnings ignored;  // the modules' own problems are reported by whoever lists them
      for (const auto& [address, s] : seen) {
        Module m = reader_.read(address, ignored);
        if (m.base && m.size && *m.size < kMaxScanBytes) {
          begin = std::min(begin, *m.base);
          end = std::max(end, *m.base + *m.size);
        }
        begin = std::min(begin, address);
        end = std::max(end, address + kPage);
      }
    }
    if (end > begin)
      for (uint64_t m : scan(begin, end, warnings)) see(m, kModuleInMemory);
    else
      warnings.add("modules: no module area known (no mod_tree bounds, no module found): module memory is not scanned");
  }
  std::vector<ModuleSighting> out;
  for (auto& [address, s] : seen) out.push_back(std::move(s));
  return out;
}

}  // namespace memscope::linux_kernel
