// The kernel's own BTF, read out of an image: the blob the linker puts
// between __start_BTF and __stop_BTF when the kernel is built with
// CONFIG_DEBUG_INFO_BTF (5.2+; every major distribution), the same bytes as
// /sys/kernel/btf/vmlinux on the running machine.
//
// The section's bounds come from the kernel's symbols (kallsyms); its
// header must agree with them (a header claiming more than the section
// holds is refused), and the blob is then parsed and validated in full
// (profiles/btf/btf.h). Without the symbols (a kernel without
// KALLSYMS_ALL) the kernel image is searched for a BTF header that parses.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/layers/address_space.h"
#include "core/util/error.h"
#include "profiles/btf/btf.h"

namespace memscope {

// The kernel carries no BTF (or none memscope can find): what the user can
// give instead is the caller's to say.
class NoKernelBtf : public Error {
 public:
  using Error::Error;
};

struct KernelBtfPlace {
  // Run-time addresses of __start_BTF and __stop_BTF, when the symbols have them.
  std::optional<uint64_t> start, stop;
  // Where to search without them: the kernel image's physical extent.
  uint64_t image_physical = 0, image_physical_end = 0;
};

struct KernelBtf {
  Btf btf;
  uint64_t address = 0;  // where the blob starts (virtual, or physical when searched)
  uint64_t size = 0;     // bytes used (header + sections)
  std::string found_by;  // "__start_BTF", "search of the kernel image"
};

// Largest BTF section accepted (the fixture's 6.1 kernel has 4.4 MB; the
// largest distribution kernels about 10 MB).
inline constexpr uint64_t kMaxKernelBtfBytes = uint64_t{256} << 20;

// Reads the blob through `kernel` (the kernel's virtual space), or searches
// `physical` when the symbols do not place it. Throws NoKernelBtf when there
// is none, ReadError naming the address when it cannot be read, FormatError
// when it is damaged (a lying header, a bad type).
KernelBtf read_kernel_btf(AddressSpace& kernel, AddressSpace& physical, const KernelBtfPlace& place);

}  // namespace memscope
