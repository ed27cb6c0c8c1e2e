// The profile sources this folder offers the session (core/session/
// profile_source.h), in the order they are asked: an explicit ISF file (-p),
// the kernel's BTF and System.map given as files (--btf, --system-map), and
// a folder search by banner (-s and the user's default folder). The cache
// of profiles recovered from images and the recovery itself come last
// (profiles/image/image_profile_sources.cpp).
#include <cstdlib>

#include "core/linux/discovery/banners.h"
#include "core/session/profile_source.h"
#include "profiles/btf/profile_from_btf.h"
#include "profiles/finder/profile_finder.h"
#include "profiles/image/image_profile.h"
#include "profiles/isf/isf_loader.h"

namespace memscope {
namespace {

std::optional<ProfileChoice> explicit_file(const ProfileRequest& request) {
  if (request.profile_path.empty()) return std::nullopt;
  return ProfileChoice{load_profile(request.profile_path, request.use_cache), "file",
                       "given with -p/--profile"};
}

// --btf and --system-map: both files, or one of them with the other half
// recovered from the image.
std::optional<ProfileChoice> btf_and_system_map(const ProfileRequest& request) {
  if (!request.profile_path.empty() || (request.btf_path.empty() && request.system_map_path.empty()))
    return std::nullopt;
  if (!request.btf_path.empty() && !request.system_map_path.empty()) {
    ProfileFromBtfOptions options;
    options.source = request.btf_path + " + " + request.system_map_path;
    if (request.banners) {
      const std::vector<std::string>& banners = request.banners();
      if (!banners.empty()) options.banner = banners.front();
    }
    Btf btf = Btf::load(request.btf_path);
    SystemMap map = load_system_map(request.system_map_path);
    return ProfileChoice{profile_from_btf(btf, map, options), "btf",
                         "types from --btf " + request.btf_path + ", symbols from --system-map " +
                             request.system_map_path};
  }
  ImageKernel image;
  image.physical = request.physical;
  image.notes = request.notes;
  image.image = request.image;
  if (request.kernel) image.kernel = request.kernel(&image.kernel_error);
  ImageProfileOptions options;
  options.btf_path = request.btf_path;
  options.system_map_path = request.system_map_path;
  options.use_cache = false;
  ImageProfile recovered = recover_image_profile(image, options);
  return ProfileChoice{recovered.profile, "btf", recovered.reason};
}

// "/home/u/.local/share/..." as "~/.local/share/...": messages stay short.
std::string with_tilde(const std::string& path) {
  const char* home = std::getenv("HOME");
  if (home && *home && path.starts_with(std::string(home) + "/")) return "~" + path.substr(std::string(home).size());
  return path;
}

std::optional<ProfileChoice> symbol_folders(const ProfileRequest& request) {
  if (!request.profile_path.empty()) return std::nullopt;
  FinderOptions finder;
  finder.use_index = request.use_cache;
  ProfileFinder folders(request.symbol_dirs, finder);
  const std::vector<std::string>& banners = request.banners();
  std::optional<ProfileCandidate> match = folders.find(banners);
  if (!match) {
    // Not an error: the next sources may still give a profile. Say why for
    // the message when none does.
    std::string where;
    for (const std::string& dir : folders.dirs()) where += (where.empty() ? "" : ", ") + with_tilde(dir);
    const std::string fallback = ProfileFinder::default_symbols_dir();
    if (where.empty()) where = with_tilde(fallback.empty() ? "~/.local/share/memscope/symbols" : fallback);
    if (banners.empty())
      request.declined.push_back("no kernel banner found to match an ISF in " + where + " by");
    else
      request.declined.push_back("no ISF in " + where + " matches " + linux_release_of(banners.front()));
    return std::nullopt;
  }
  LoadOptions load;
  load.use_cache = request.use_cache;
  return ProfileChoice{load_profile(match->path, load), "symbols", "its banner matches the image's kernel"};
}

}  // namespace

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "file",
  .description = "the ISF file given with -p/--profile",
  .priority = 100,
  .resolve = explicit_file,
});

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "btf",
  .description = "the kernel's BTF and System.map given with --btf and --system-map (one of them alone: the other "
                 "half from the image)",
  .priority = 90,
  .resolve = btf_and_system_map,
});

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "symbols",
  .description = "the ISF in the -s folders (then the user's default folder) whose banner matches the image",
  .priority = 50,
  .resolve = symbol_folders,
});

}  // namespace memscope
