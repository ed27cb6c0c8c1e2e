// A kernel profile recovered from the image itself, with no ISF, System.map
// or BTF file: symbols from the kernel's own kallsyms, types from its own
// BTF (between __start_BTF and __stop_BTF), built by profile_from_btf.
//
// Where the kernel is: the kernel that discovery found without a profile
// (VMCOREINFO gives its page table, KASLR shift and, on 6.0+, the kallsyms
// tables); without VMCOREINFO, the kallsyms tables are found by their
// structure in physical memory and the page table from them
// (core/linux/discovery/kallsyms.h). Either half may come from a file
// instead (--btf, --system-map).
//
// Profiles are link-time, like every profile: kallsyms' run-time addresses
// are moved back by the KASLR shift. A recovered profile is cached in the
// user's profile cache (profiles/cache, the same mapped format as ISF
// entries), keyed by the kernel's banner and build ID, so the next image of
// the same kernel maps it instead of recovering it; only profiles whose
// shift VMCOREINFO gave (KERNELOFFSET) are cached, so a cached profile is
// never off by a guessed shift.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/linux/discovery/kernel_info.h"
#include "core/types/profile.h"
#include "core/util/error.h"
#include "profiles/btf/profile_from_btf.h"

namespace memscope {

// What the image offers to recover a profile from.
struct ImageKernel {
  AddressSpace* physical = nullptr;
  const ImageNotes* notes = nullptr;
  // The kernel discovery found without a profile, or nullptr (then
  // kernel_error says why).
  const LinuxKernelInfo* kernel = nullptr;
  std::string kernel_error;
  std::string image;  // names the image in messages
};

struct ImageProfileOptions {
  std::string btf_path;         // the types from this file instead of memory
  std::string system_map_path;  // the symbols from this file instead of kallsyms
  bool use_cache = true;        // look the profile up in, and store it to, the user cache
  std::string cache_dir;        // "" = default_cache_dir()
  std::string producer_version;
};

struct ImageProfile {
  std::shared_ptr<const Profile> profile;
  std::string reason;       // one line: what it was made from (for `memscope info`)
  bool from_cache = false;  // mapped from the cache, nothing recovered
  std::string cache_entry;  // the cache file read or written, "" if none
  // For ISF metadata: where the symbols came from ("kallsyms" of the
  // kernel's memory, or the System.map's file name).
  std::string symbols_name;
  IsfFromBtfReport report;  // what the generator did (empty for a cache hit)
  std::vector<std::string> warnings;
};

// Why no profile can be had from the image, in a few words that name what
// is missing (the kernel, its kallsyms, its BTF) and what the user can give.
class ImageProfileUnavailable : public ProfileError {
 public:
  using ProfileError::ProfileError;
};

// The cache entry of this image's kernel (banner and build ID), mapped, or
// nullopt: no entry, no VMCOREINFO kernel, or no build ID.
std::optional<ImageProfile> cached_image_profile(const ImageKernel& image, const ImageProfileOptions& options);

// Recovers the profile (and caches it when it can). Throws
// ImageProfileUnavailable when the image lacks what it needs, with the
// reason; ReadError/FormatError messages of damaged tables are part of it.
ImageProfile recover_image_profile(const ImageKernel& image, const ImageProfileOptions& options);

// What a cached profile's source is named: the cache key.
std::string image_profile_key(const std::string& banner, const std::string& build_id);

}  // namespace memscope
