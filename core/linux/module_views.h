// Where the kernel keeps track of loaded modules, each of which a rootkit
// may tamper with separately: the `modules` list (lsmod, /proc/modules),
// the kobjects of /sys/module (module_kset), the module tree the kernel
// searches by address (mod_tree, 4.2+), and the modules' memory itself,
// scanned for struct modules that hold together. A module missing from the
// list but seen by another view is hidden (linux.hidden_modules; the
// sysfs-vs-list comparison alone is linux.check_modules).
//
// Each view that cannot be read (a kernel without mod_tree, a profile
// without module_kset) is reported as a warning naming the object, and the
// others are still used.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/linux/kernel_view.h"
#include "core/linux/modules.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

enum ModuleViewBits : unsigned {
  kModuleInList = 1u << 0,
  kModuleInSysfs = 1u << 1,
  kModuleInTree = 1u << 2,
  kModuleInMemory = 1u << 3,
};

// The names found_by lists: "list", "sysfs", "mod_tree", "memory".
std::vector<std::string> module_view_names(unsigned views);

// A /sys/module entry: its kobject's name and the module it stands for (0
// for a built-in module, which has parameters but no struct module).
struct SysfsModule {
  std::string name;
  uint64_t kobject = 0;
  uint64_t module = 0;
};

struct ModuleSighting {
  uint64_t address = 0;  // struct module
  unsigned views = 0;    // ModuleViewBits
  std::optional<std::string> sysfs_name;
};

class ModuleViews {
 public:
  // Throws ProfileError without struct module.
  explicit ModuleViews(const KernelView& kernel);

  // The views; nullopt (with a warning naming what is missing) for one
  // this kernel or profile does not have, or that cannot be read.
  std::optional<std::vector<uint64_t>> list(Warnings& warnings) const;
  std::optional<std::vector<SysfsModule>> sysfs(Warnings& warnings) const;
  std::vector<uint64_t> tree(Warnings& warnings) const;
  // struct modules found in the module area ([begin, end) of kernel
  // virtual memory, at most kMaxScanBytes), each validated field by field.
  std::vector<uint64_t> scan(uint64_t begin, uint64_t end, Warnings& warnings) const;
  static constexpr uint64_t kMaxScanBytes = uint64_t{2} << 30;

  // Every module any view saw, by address, with the views that saw it.
  // `scan_memory`: also scan the module area (mod_tree's bounds, else the
  // extent of the modules the other views found). `list_read` tells
  // whether the modules list could be read (without it, no module can be
  // called hidden).
  std::vector<ModuleSighting> all(Warnings& warnings, bool scan_memory = true, bool* list_read = nullptr) const;

  // True if a struct module at `address` holds together: a state in range,
  // a printable name, list links that are self-consistent (or self-linked,
  // as a module unlinked by hand), and the sysfs back pointer when the
  // profile has one. `why` says what failed.
  bool plausible(uint64_t address, std::string* why = nullptr) const;

  const ModuleReader& reader() const { return reader_; }

 private:
  const KernelView& kernel_;
  ModuleReader reader_;
  TypeRef module_type_;
  uint64_t name_offset_ = 0, name_size_ = 0, state_offset_ = 0, state_size_ = 0, list_offset_ = 0;
  int64_t state_max_ = 3;
  std::optional<uint64_t> mkobj_mod_offset_;  // module.mkobj.mod
};

}  // namespace memscope::linux_kernel
