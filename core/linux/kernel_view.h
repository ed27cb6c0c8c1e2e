// What the Linux plugins need from an analysis session: the profile, the
// kernel's virtual address space, the KASLR shift, and a way to open a
// process's address space. Held as plain references so that the walking
// code (tasks.h, modules.h) works on any stack of layers, and tests can
// drive it without a whole session.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "core/types/object.h"
#include "core/types/profile.h"
#include "core/layers/x86_64_paging.h"

namespace memscope::linux_kernel {

class KernelView {
 public:
  // A virtual space for one process (`pgd_physical`: its top-level table).
  using SpaceFactory = std::function<std::unique_ptr<X86_64Paging>(uint64_t pgd_physical, const std::string& name)>;

  // Without a factory, process spaces are new paging layers over the
  // kernel's physical layer, with the kernel's number of levels.
  KernelView(const Profile& profile, X86_64Paging& kernel, uint64_t virtual_shift, SpaceFactory process_space = {});

  const Profile& profile() const { return *profile_; }
  X86_64Paging& kernel() const { return *kernel_; }
  uint64_t virtual_shift() const { return virtual_shift_; }

  // Run-time address of a profile symbol; throws ProfileError if absent.
  uint64_t symbol_address(std::string_view name) const;
  // The object at a symbol, typed `type_name` (never trusting the symbol's
  // own type, which generated profiles may lack).
  Object symbol(std::string_view name, std::string_view type_name) const;
  Object object(std::string_view type_name, uint64_t address) const {
    return Object(*profile_, *kernel_, type_name, address);
  }
  std::unique_ptr<X86_64Paging> process_space(uint64_t pgd_physical, const std::string& name) const;

 private:
  const Profile* profile_;
  X86_64Paging* kernel_;
  uint64_t virtual_shift_;
  SpaceFactory process_space_;
};

}  // namespace memscope::linux_kernel
