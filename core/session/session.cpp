#include "core/session/session.h"

#include "core/util/error.h"
#include "core/util/hex.h"
#include "core/linux/discovery/banners.h"
#include "core/linux/discovery/discovery.h"
#include "core/util/file_identity.h"
#include "core/layers/format_registry.h"
#include "core/layers/mapped_file.h"
#include "core/session/profile_source.h"

namespace memscope {

Session::Session(SessionOptions options) : options_(std::move(options)) {
  image_ = open_image(options_.image);
  overlay_ = std::make_unique<Overlay>(*image_);
}

Session::~Session() = default;

DiscoveryOptions Session::discovery_options() const {
  DiscoveryOptions options;
  options.list_all_banners = options_.list_all_banners;
  options.image_name = options_.image;
  return options;
}

const LinuxKernelInfo* Session::kernel_without_profile() {
  if (!unprofiled_tried_) {
    unprofiled_tried_ = true;
    ++discovery_runs_;
    try {
      unprofiled_kernel_ = discover_linux_kernel(physical(), image_->notes(), nullptr, discovery_options());
    } catch (const KernelNotFound& e) {
      unprofiled_error_ = e;
    } catch (const Error& e) {
      unprofiled_error_ = KernelNotFound(e.what(), {});  // no banners known
    }
  }
  return unprofiled_kernel_ ? &*unprofiled_kernel_ : nullptr;
}

std::vector<std::string> Session::image_banners() {
  // The banner of the kernel that discovery validates without a profile
  // (VMCOREINFO, CPU notes); else the banners its memory scan saw, which
  // are every banner in memory.
  if (const LinuxKernelInfo* found = kernel_without_profile(); found && !found->banner.empty()) return {found->banner};
  if (unprofiled_error_ && !unprofiled_error_->banners().empty()) return unprofiled_error_->banners();
  return find_linux_banners(physical());
}

void Session::load_profile() {
  if (profile_tried_) return;
  profile_tried_ = true;
  std::vector<std::string> banners;
  bool banners_found = false;
  ProfileRequest request;
  request.profile_path = options_.profile;
  request.symbol_dirs = options_.symbol_dirs;
  request.use_cache = options_.use_profile_cache;
  request.btf_path = options_.btf;
  request.system_map_path = options_.system_map;
  request.image = options_.image;
  request.physical = &physical();
  request.notes = &image_->notes();
  request.kernel = [this](std::string* why) -> const LinuxKernelInfo* {
    const LinuxKernelInfo* found = kernel_without_profile();
    if (!found && why && unprofiled_error_) *why = unprofiled_error_->what();
    return found;
  };
  request.banners = [&]() -> const std::vector<std::string>& {
    if (!banners_found) {
      banners_found = true;
      banners = image_banners();
    }
    return banners;
  };
  try {
    profile_choice_ = choose_profile(request);
    profile_ = profile_choice_->profile;
  } catch (const std::exception& e) {
    profile_error_ = e.what();
  }
}

bool Session::has_profile() {
  load_profile();
  return profile_ != nullptr;
}

std::shared_ptr<const Profile> Session::shared_profile() {
  load_profile();
  if (!profile_)
    throw ProfileError(profile_error_ ? *profile_error_ : "no kernel profile: give one with -p/--profile or -s/--symbols");
  return profile_;
}

const Profile& Session::profile() { return *shared_profile(); }

const LinuxKernelInfo& Session::kernel() {
  if (kernel_) return *kernel_;
  if (kernel_error_) throw Error(*kernel_error_);
  try {
    const Profile* profile = has_profile() ? profile_.get() : nullptr;
    if (unprofiled_tried_ && !profile) {
      // Choosing a profile searched without one, and none was chosen: that
      // search's answer is the answer.
      if (!unprofiled_kernel_) throw *unprofiled_error_;
      kernel_ = *unprofiled_kernel_;
    } else if (unprofiled_kernel_) {
      kernel_ = confirm_linux_kernel(physical(), *unprofiled_kernel_, *profile, discovery_options());
    }
    if (!kernel_) {
      ++discovery_runs_;
      kernel_ = discover_linux_kernel(physical(), image_->notes(), profile, discovery_options());
    }
  } catch (const std::exception& e) {
    kernel_error_ = e.what();
    throw;
  }
  return *kernel_;
}

bool Session::has_kernel() {
  try {
    kernel();
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

X86_64Paging& Session::kernel_space() {
  if (!kernel_space_) {
    const LinuxKernelInfo& info = kernel();
    kernel_space_ = std::make_unique<X86_64Paging>(physical(), info.dtb, info.paging_levels, "kernel");
  }
  return *kernel_space_;
}

void Session::set_kernel_dtb(uint64_t cr3, int levels) {
  LinuxKernelInfo info = kernel_ ? *kernel_ : LinuxKernelInfo{};
  info.dtb = cr3;
  info.paging_levels = levels;
  info.method = "manual";
  kernel_space_ = std::make_unique<X86_64Paging>(physical(), cr3, levels, "kernel");
  kernel_ = std::move(info);
  kernel_error_.reset();
}

std::optional<uint64_t> Session::find_symbol_address(std::string_view name) {
  if (!has_profile()) return std::nullopt;
  std::optional<uint64_t> address = profile_->symbol(name);
  if (!address) return std::nullopt;
  return *address + kernel().virtual_shift;
}

uint64_t Session::symbol_address(std::string_view name) {
  return profile().require_symbol(name) + kernel().virtual_shift;
}

ImageIdentity Session::image_identity() const {
  // Hashing a whole 256 GB image to name it would take minutes: the
  // fingerprint covers the size and the first and last MiB of the file,
  // which hold the container's headers and tables, and survives copying
  // the image. Taken from the layer's own mapping when it has one (the
  // bytes being analysed, with no second open), else read from the file.
  const std::string& path = image_->path();
  if (const MappedFile* file = image_->mapped_file())
    return ImageIdentity{path, file->size(), head_tail_fingerprint(file->data(), file->size())};
  return ImageIdentity{path, image_->file_size(), head_tail_fingerprint(path)};
}

std::unique_ptr<X86_64Paging> Session::process_space(uint64_t cr3, const std::string& name) {
  int levels = kernel_ ? kernel_->paging_levels : 4;
  return std::make_unique<X86_64Paging>(physical(), cr3, levels, name);
}

}  // namespace memscope
