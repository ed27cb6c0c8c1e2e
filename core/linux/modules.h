// Loaded kernel modules as lsmod (and later hidden_modules) sees them: the
// `modules` list and what /proc/modules prints for each entry.
//
// The memory layout of struct module changed twice, and the profile says
// which one this kernel has:
//   module_core / core_size / init_size           (before 4.5)
//   core_layout / init_layout (/ data_layout)      (4.5 - 6.3)
//   mem[MOD_MEM_NUM_TYPES] of struct module_memory (6.4+)
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/types/profile.h"
#include "core/linux/kernel_view.h"
#include "core/linux/warnings.h"

namespace memscope::linux_kernel {

// One memory region of a module: [base, base + size). `text` marks the
// executable ones (core and init text), which hook checks compare code
// pointers against.
struct ModuleRegion {
  uint64_t base = 0;
  uint64_t size = 0;
  bool text = false;
  bool contains(uint64_t address) const { return address - base < size; }
};

struct Module {
  uint64_t address = 0;  // struct module
  std::optional<std::string> name;
  // Every memory region of the module, as /proc/modules counts it (init
  // regions included while they exist).
  std::optional<uint64_t> size;
  std::optional<int64_t> refcount;  // as /proc/modules shows it
  std::optional<std::string> state;  // "Live", "Loading", "Unloading", "Unformed"
  std::optional<uint64_t> base;      // start of the core (text) region
  // Every non-empty region the layout names (empty when unreadable).
  std::vector<ModuleRegion> regions;
};

// The name /proc/modules gives a module_state enumerator
// ("MODULE_STATE_LIVE" -> "Live"); other names are returned as they are.
std::string module_state_text(std::string_view enumerator);

class ModuleReader {
 public:
  // Resolves the fields once; throws ProfileError without struct module.
  explicit ModuleReader(const KernelView& kernel);

  // The entries of the `modules` list, in list order.
  std::vector<uint64_t> modules(Warnings& warnings) const;
  // Reads one module; at most one warning for it, listing what failed.
  Module read(uint64_t address, Warnings& warnings) const;

 private:
  enum class Layout { kMemArray, kCoreLayout, kModuleCore, kUnknown };

  const KernelView& kernel_;
  const Profile& profile_;
  TypeRef module_type_;
  Layout layout_ = Layout::kUnknown;
  // kMemArray: the array, its element size, the number of regions, and the
  // index of MOD_TEXT.
  FieldRef mem_;
  uint64_t mem_stride_ = 0, mem_count_ = 0, mem_text_index_ = 0;
  // kMemArray: which mem[] entries hold code (MOD_TEXT, MOD_INIT_TEXT).
  std::vector<bool> mem_is_text_;
  bool has_data_layout_ = false;
};

}  // namespace memscope::linux_kernel
