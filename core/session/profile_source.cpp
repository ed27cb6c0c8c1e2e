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
  std::string why;
  for (const std::string& reason : request.declined) why += reason + "; ";
  throw ProfileError("no kernel profile: " + why + "give -p ISF, -s DIR, or --btf and --system-map");
}

}  // namespace memscope
