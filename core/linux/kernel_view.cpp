#include "core/linux/kernel_view.h"

namespace memscope::linux_kernel {

KernelView::KernelView(const Profile& profile, X86_64Paging& kernel, uint64_t virtual_shift,
                       SpaceFactory process_space)
    : profile_(&profile), kernel_(&kernel), virtual_shift_(virtual_shift), process_space_(std::move(process_space)) {}

uint64_t KernelView::symbol_address(std::string_view name) const {
  return profile_->require_symbol(name) + virtual_shift_;
}

Object KernelView::symbol(std::string_view name, std::string_view type_name) const {
  return symbol_object(*profile_, *kernel_, name, virtual_shift_, type_name);
}

std::unique_ptr<X86_64Paging> KernelView::process_space(uint64_t pgd_physical, const std::string& name) const {
  if (process_space_) return process_space_(pgd_physical, name);
  return std::make_unique<X86_64Paging>(*kernel_->below(), pgd_physical, kernel_->levels(), name);
}

}  // namespace memscope::linux_kernel
