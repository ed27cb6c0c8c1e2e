// Finds the Linux kernel in a physical memory image by itself: its page-table
// root (DTB), paging mode, KASLR shifts and banner. See
// docs/kernel-discovery.md for the method.
//
// Evidence, in order (the first that validates wins, and scanning stops):
//  1. The container's VMCOREINFO note (ELF/kdump).
//  2. With a profile, linux_banner read at each place a 2 MiB-aligned load
//     can put it (one page per 2 MiB, lowest first).
//  3. One parallel scan of physical memory for
//     - "OSRELEASE=": the kernel's own VMCOREINFO copy in RAM;
//     - "Linux version ": banners (with a profile: at linux_banner's page
//       offset, giving the physical shift);
//     - "swapper/0" at init_task.comm's page offset (with a profile).
//  4. The CPU notes' CR3 (QEMU ELF), to translate profile symbols.
// Nothing is believed until it is validated through a page-table
// translation: the kernel's page table must map its own virtual address to
// itself, and linux_banner (or init_uts_ns, or init_task.comm) must read back
// as expected. With a profile, the banner must equal the profile's.
//
// Bounded on hostile images: candidates per kind of evidence, texts read
// and banners listed are capped.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/linux/discovery/kernel_info.h"
#include "core/util/error.h"

namespace memscope {

class Profile;
class PhysicalLayer;

struct DiscoveryOptions {
  // Use the container's VMCOREINFO note and CPU registers.
  bool use_notes = true;
  // Search physical memory: the banner probe, then the scan (VMCOREINFO in
  // RAM, banners, swapper/0).
  bool scan_memory = true;
  // Keep scanning after success to list every banner in the image; the
  // answer does not change, the cost becomes a whole-image scan. Off by
  // default: discovery stops at the first validated kernel (`memscope info
  // --all-banners` lists banners with list_linux_banners, banners.h).
  bool list_all_banners = false;
  // Force 4- or 5-level paging instead of detecting it.
  std::optional<int> paging_levels;
  // Scanner threads; 0: one per core.
  unsigned threads = 0;
  // Validations attempted per kind of evidence (VMCOREINFO texts, banner
  // positions, init_task positions, CR3 values) before giving up on it.
  size_t max_candidates = 256;
  // Banners listed in LinuxKernelInfo::banners_found.
  size_t max_banners_listed = 32;
  // Names the image in messages; default: the layer's path or name.
  std::string image_name;
};

// x86_64's __START_KERNEL_map: the kernel image's link-time base, which maps
// physical 0 when the kernel is loaded where it was linked to be.
inline constexpr uint64_t kStartKernelMap = 0xffffffff80000000ull;
// KERNEL_IMAGE_SIZE with KASLR: the image (and so its virtual shift) stays
// in the first GiB above __START_KERNEL_map.
inline constexpr uint64_t kKernelImageSpan = uint64_t{1} << 30;

// What discovery throws when nothing validates. The message is "no Linux
// kernel found in <image>: <what was tried>"; banners() lists the distinct
// banners the memory scan saw (address order, capped), which can still
// choose a profile without scanning again.
class KernelNotFound : public Error {
 public:
  KernelNotFound(const std::string& message, std::vector<std::string> banners)
      : Error(message), banners_(std::move(banners)) {}
  const std::vector<std::string>& banners() const { return banners_; }

 private:
  std::vector<std::string> banners_;
};

// `physical` is the image's physical address space (a format layer, or an
// overlay on it); `profile` may be null. Throws KernelNotFound when nothing
// validates.
LinuxKernelInfo discover_linux_kernel(AddressSpace& physical, const ImageNotes& notes, const Profile* profile,
                                      const DiscoveryOptions& options = {});

// A kernel found without a profile (`found`, from discover_linux_kernel),
// checked against `profile` the way discovery validates a candidate, with
// no search: a handful of reads through found.dtb's page table (the
// profile's page-table root must agree with VMCOREINFO's and map itself,
// linux_banner must read back the profile's banner). Returns the kernel
// completed with what the profile knows (linux_banner's address; the
// virtual shift when VMCOREINFO has no KERNELOFFSET), its method unchanged
// and the check added to method_detail; or nullopt when the profile does
// not fit this kernel (then run discover_linux_kernel with the profile).
std::optional<LinuxKernelInfo> confirm_linux_kernel(AddressSpace& physical, const LinuxKernelInfo& found,
                                                    const Profile& profile, const DiscoveryOptions& options = {});

// Same, with the layer's own notes and path.
LinuxKernelInfo discover_linux_kernel(PhysicalLayer& layer, const Profile* profile,
                                      const DiscoveryOptions& options = {});

}  // namespace memscope
