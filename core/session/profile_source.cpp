#include "core/session/profile_source.h"

#include "core/util/error.h"

namespace memscope {

Registry<ProfileSource>& profile_source_registry() {
  static Registry<ProfileSource> registry(
      "profile source", [](const ProfileSource& s) -> std::string_view { return s.name; },
      [](const ProfileSource& a, const ProfileSource& b) {
        return a.priority != b.priority ? a.priority > b.priority : a.name < b.name;
      });
  return registry;
}

ProfileChoice choose_profile(const ProfileRequest& request) {
  for (const ProfileSource& source : profile_source_registry().entries()) {
    std::optional<ProfileChoice> choice = source.resolve(request);
    if (!choice) continue;
    if (choice->source.empty()) choice->source = source.name;
    return std::move(*choice);
  }
  throw ProfileError("no kernel profile: give one with -p/--profile or a folder of profiles with -s/--symbols");
}

}  // namespace memscope
