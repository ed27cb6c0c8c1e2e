// Finds the Linux kernel in a physical memory image by itself: its page-table
// root (DTB), paging mode, KASLR shifts and banner. See
// docs/kernel-discovery.md for the method.
//
// Evidence, in order (the first that validates wins, and scanning stops):
//  1. The container's VMCOREINFO note (ELF/kdump).
//  2. One parallel scan of physical memory for
//     - "OSRELEASE=": the kernel's own VMCOREINFO copy in RAM;
//     - "Linux version ": banners (with a profile: at linux_banner's page
//       offset, giving the physical shift);
//     - "swapper/0" at init_task.comm's page offset (with a profile).
//  3. The CPU notes' CR3 (QEMU ELF), to translate profile symbols.
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

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/linux/discovery/kernel_info.h"

namespace memscope {

class Profile;
class PhysicalLayer;

struct DiscoveryOptions {
  // Use the container's VMCOREINFO note and CPU registers.
  bool use_notes = true;
  // Scan physical memory (VMCOREINFO in RAM, banners, swapper/0).
  bool scan_memory = true;
  // Keep scanning after success to list every banner in the image (for
  // `memscope info`); the answer does not change.
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

// `physical` is the image's physical address space (a format layer, or an
// overlay on it); `profile` may be null. Throws memscope::Error
// "no Linux kernel found in <image>: <what was tried>" when nothing
// validates.
LinuxKernelInfo discover_linux_kernel(AddressSpace& physical, const ImageNotes& notes, const Profile* profile,
                                      const DiscoveryOptions& options = {});

// Same, with the layer's own notes and path.
LinuxKernelInfo discover_linux_kernel(PhysicalLayer& layer, const Profile* profile,
                                      const DiscoveryOptions& options = {});

}  // namespace memscope
