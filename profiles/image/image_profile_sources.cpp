// The last two profile sources (core/session/profile_source.h): a profile
// recovered earlier from the memory of the same kernel (the user's cache,
// by banner and build ID), then recovery from this image's memory. Both
// step aside when the user named a profile (-p, --btf, --system-map).
#include "core/session/profile_source.h"
#include "profiles/image/image_profile.h"

namespace memscope {
namespace {

bool user_named_a_profile(const ProfileRequest& request) {
  return !request.profile_path.empty() || !request.btf_path.empty() || !request.system_map_path.empty();
}

ImageKernel image_of(const ProfileRequest& request) {
  ImageKernel image;
  image.physical = request.physical;
  image.notes = request.notes;
  image.image = request.image;
  if (request.physical && request.kernel) image.kernel = request.kernel(&image.kernel_error);
  return image;
}

std::optional<ProfileChoice> cached_recovery(const ProfileRequest& request) {
  if (user_named_a_profile(request) || !request.use_cache || !request.physical) return std::nullopt;
  ImageProfileOptions options;
  std::optional<ImageProfile> cached = cached_image_profile(image_of(request), options);
  if (!cached) return std::nullopt;
  return ProfileChoice{cached->profile, "cache", cached->reason};
}

std::optional<ProfileChoice> recovery(const ProfileRequest& request) {
  if (user_named_a_profile(request) || !request.physical) return std::nullopt;
  ImageProfileOptions options;
  options.use_cache = request.use_cache;
  try {
    ImageProfile recovered = recover_image_profile(image_of(request), options);
    return ProfileChoice{recovered.profile, "image", recovered.reason};
  } catch (const ImageProfileUnavailable& e) {
    request.declined.push_back(e.what());
    return std::nullopt;
  }
}

}  // namespace

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "cache",
  .description = "a profile recovered earlier from the memory of the same kernel (banner and build ID), in the "
                 "user's profile cache",
  .priority = 20,
  .resolve = cached_recovery,
});

MEMSCOPE_REGISTER(profile_source_registry(), ProfileSource{
  .name = "image",
  .description = "recovered from the image itself: symbols from the kernel's kallsyms, types from its BTF",
  .priority = 10,
  .resolve = recovery,
});

}  // namespace memscope
