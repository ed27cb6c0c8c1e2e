// The profile sources this folder offers the session (core/session/
// profile_source.h): an explicit ISF file, and a folder search by banner.
#include "core/session/profile_source.h"
#include "profiles/finder/profile_finder.h"
#include "profiles/isf/isf_loader.h"

namespace memscope {
namespace {

std::optional<ProfileChoice> explicit_file(const ProfileRequest& request) {
  if (request.profile_path.empty()) return std::nullopt;
  return ProfileChoice{load_profile(request.profile_path, request.use_cache), "file",
                       "given with -p/--profile"};
}

std::optional<ProfileChoice> symbol_folders(const ProfileRequest& request) {
  if (!request.profile_path.empty()) return std::nullopt;
  FinderOptions finder;
  finder.use_index = request.use_cache;
  ProfileFinder folders(request.symbol_dirs, finder);
  ProfileCandidate match = folders.require(request.banners());
  LoadOptions load;
  load.use_cache = request.use_cache;
  return ProfileChoice{load_profile(match.path, load), "symbols", "its banner matches the image's kernel"};
}

}  // namespace

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "file",
  .description = "the ISF file given with -p/--profile",
  .priority = 100,
  .resolve = explicit_file,
});

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "symbols",
  .description = "the ISF in the -s folders (then the user's default folder) whose banner matches the image",
  .priority = 50,
  .resolve = symbol_folders,
});

}  // namespace memscope
