// KernelView from a Session: kept apart from kernel_view.cpp so that the
// walking code does not depend on the session.
#include "core/session/session.h"
#include "core/linux/kernel_view.h"

namespace memscope::linux_kernel {

KernelView kernel_view(Session& session) {
  const Profile& profile = session.profile();
  X86_64Paging& kernel = session.kernel_space();
  uint64_t shift = session.kernel().virtual_shift;
  return KernelView(profile, kernel, shift, [&session](uint64_t pgd_physical, const std::string& name) {
    return session.process_space(pgd_physical, name);
  });
}

}  // namespace memscope::linux_kernel
