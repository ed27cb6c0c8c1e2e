// Where a session's kernel profile comes from, as a registry of sources:
// an ISF file named with -p, the folders of profiles matched by banner (-s
// and the user's default folder), and later BTF + System.map or symbols and
// types recovered from the image itself. Each source lives in profiles/ and
// registers itself; the session (core) asks them in priority order and
// never names one.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/layers/address_space.h"
#include "core/layers/image_notes.h"
#include "core/linux/discovery/kernel_info.h"
#include "core/types/profile.h"
#include "core/util/registry.h"

namespace memscope {

// What the user gave and what the image says, for the sources to choose from.
struct ProfileRequest {
  std::string profile_path{};              // -p/--profile FILE, or ""
  std::vector<std::string> symbol_dirs;  // -s/--symbols DIR, in order
  bool use_cache = true;                 // the per-user profile cache
  // The image's kernel banners, most trusted first. Finding them costs a
  // discovery pass, so it runs on the first call only (and never when
  // a source that needs no banner answers first).
  std::function<const std::vector<std::string>&()> banners{};
  // --btf FILE / --system-map FILE: the types and the symbols to build the
  // profile from (either may be given alone: the other half then comes from
  // the image).
  std::string btf_path{};
  std::string system_map_path{};
  // The image, for sources that read the profile out of it; null without one.
  std::string image{};  // names it in messages
  AddressSpace* physical = nullptr;
  const ImageNotes* notes = nullptr;
  // The kernel as found without a profile (VMCOREINFO, CPU notes), or
  // nullptr with the reason in *why. Runs discovery on the first call only.
  std::function<const LinuxKernelInfo*(std::string* why)> kernel{};
  // Why each source that did not apply did not, in a few words each: what
  // the error says when no source applies.
  mutable std::vector<std::string> declined{};
};

// A source's answer.
struct ProfileChoice {
  std::shared_ptr<const Profile> profile;
  std::string source{};  // the source's name: "file", "symbols", ...
  std::string reason{};  // why it was chosen, for `memscope info`
};

struct ProfileSource {
  std::string name{};         // "file", "symbols"
  std::string description{};  // one line for docs and `memscope info`
  int priority = 0;         // higher is asked first
  // nullopt: this source does not apply to the request (so the next one is
  // asked; it may say why in request.declined); a ProfileError: it applies
  // but failed (the message says why).
  std::function<std::optional<ProfileChoice>(const ProfileRequest&)> resolve{};
};

// Every profile source, highest priority first. A source registers itself:
//   MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{...});
Registry<ProfileSource>& profile_source_registry();

// Asks the sources in order; the first answer wins. Throws ProfileError
// when none applies (one line: why each declined, and what the user can
// give) or when the source that applies fails.
ProfileChoice choose_profile(const ProfileRequest& request);

}  // namespace memscope
